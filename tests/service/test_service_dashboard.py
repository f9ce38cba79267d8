"""The dashboard in headless Chromium (Playwright driving the system browser) against the real
capability routers: the page loads, a user lookup shows interests, segment and ranked ads with
the why breakdown, creative generation shows variants, the console stays clean."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
from service_helpers import live_server

from adwise.service import KeyStore, create_app
from optional_parts import needs

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    needs(CHROMIUM.exists(),
          "the dashboard browser test needs /usr/bin/chromium (apt-get install -y chromium)")
    needs(importlib.util.find_spec("playwright") is not None,
          "the browser test needs `pip install playwright`")
    from playwright import sync_api
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


@pytest.mark.slow
def test_dashboard_lookup_and_generation(browser, loaded_workspace, small_world):
    import pandas as pd

    from adwise.cli import main

    ws = loaded_workspace
    for cmd in (["interests", "train"], ["audience", "segment"], ["delivery", "train"]):
        assert main([*cmd, "--workspace", str(ws.path)]) == 0, cmd
    key, _ = KeyStore(ws.path).create("dashboard", "read")
    raw_user = str(pd.read_parquet(small_world / "events.parquet", columns=["user_id"])
                   ["user_id"].iloc[0])
    app = create_app(ws)
    messages: list[str] = []
    with live_server(app) as url:
        page = browser.new_page()
        page.on("console", lambda m: messages.append(f"{m.type}: {m.text}")
                if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
        page.goto(url + "/")
        assert page.title() == "adwise dashboard"
        page.fill("#api-key", key)
        page.click("#connect")
        page.wait_for_selector("#who:has-text('dashboard')", timeout=15_000)
        page.wait_for_selector("#report section", timeout=15_000)
        assert page.locator("#report section").count() >= 1

        page.click("button[data-tab=user]")
        page.fill("#user-id", raw_user)
        page.click("#lookup")
        page.wait_for_selector("#user-result[data-shown]", timeout=15_000)
        assert page.get_attribute("#user-result", "data-shown") == "3"
        assert page.locator("#card-interests table tr").count() >= 1
        assert page.locator("#card-ads .ad-row").count() >= 1
        assert page.locator("#card-segment .badge").inner_text().strip()

        page.click("button[data-tab=creative]")
        page.fill("#product", "trail running shoes")
        page.fill("#audience", "weekend hikers")
        page.fill("#n", "3")
        page.select_option("#backend", "template")
        page.click("#generate")
        page.wait_for_selector("#creative-result .variant", timeout=30_000)
        assert page.locator("#creative-result .variant").count() >= 1
        assert page.locator("#creative-result .headline").first.inner_text().strip()
        assert page.is_hidden("#error")
        page.close()
    assert messages == []
