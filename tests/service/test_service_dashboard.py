"""The dashboard in headless Chromium (Playwright driving the system browser) against the real
capability routers: the page loads, a user lookup shows interests, segment and ranked ads with
the why in words, creative generation shows variants, stored creatives can be approved with a
key that may, every chart is drawn under the page's CSP, the console stays clean; a screenshot
and an axe-core pass per tab."""

from __future__ import annotations

import re
import shlex

import pytest
from service_helpers import live_server

from adwise.service import KeyStore, create_app
from browser_helpers import (
    axe_violations,
    check_charts,
    check_text,
    chromium,
    run_small_demo,
    shot_dir,
)


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


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


def _key_from_printed_command(printed: str, capsys) -> tuple[str, str]:
    """Run the demo's printed `keys create` command as a user would; return (key, ws path)."""
    from adwise.cli import main

    create = next(line.strip() for line in printed.splitlines() if " keys create " in line)
    args = shlex.split(create)[1:]
    capsys.readouterr()
    assert main(args) == 0
    key = capsys.readouterr().out.strip().splitlines()[-1]
    return key, args[args.index("-w") + 1]


def _connect(page, url: str, key: str, messages: list[str]) -> None:
    page.on("console", lambda m: messages.append(f"{m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
    page.goto(url + "/")
    page.fill("#api-key", key)
    page.click("#connect")
    page.wait_for_selector("#report section", timeout=30_000)


@pytest.mark.slow
def test_dashboard_tabs_on_the_demo_workspace(browser, tmp_path, capsys):
    import pandas as pd

    from adwise.data import Workspace

    printed = run_small_demo(tmp_path / "demo")
    assert re.search(r"serve -w \S+workspace\b", printed)
    key, ws_path = _key_from_printed_command(printed, capsys)
    ws = Workspace.open(ws_path)
    read_key, _ = KeyStore(ws.path).create("viewer", "read")
    raw_user = str(pd.read_parquet(tmp_path / "demo" / "world" / "events.parquet",
                                   columns=["user_id"])["user_id"].iloc[0])
    shots = shot_dir(tmp_path)
    messages: list[str] = []
    violations: dict[str, list] = {}
    with live_server(create_app(ws)) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        _connect(page, url, key, messages)
        # overview: the models lead with AUC / log loss, the report's charts are drawn
        models = page.locator("#models").inner_text()
        assert "auc" in models and "accuracy" not in models
        assert check_charts(page, "#report") >= 8
        check_text(page, "#report")
        page.screenshot(path=str(shots / "dashboard-overview.png"), full_page=True)
        violations["overview"] = axe_violations(page)

        # user lookup: ads with headline, category and price, the why in words
        page.click("button[data-tab=user]")
        page.fill("#user-id", raw_user)
        page.fill("#user-placement", "top")
        page.fill("#user-hour", "19")
        page.click("#lookup")
        page.wait_for_selector("#user-result[data-shown]", timeout=15_000)
        assert page.get_attribute("#user-result", "data-shown") == "3"
        assert check_charts(page, "#card-interests") == 1  # interest lift, drawn under the CSP
        rows = page.locator("#card-ads .ad-row")
        assert rows.count() >= 5
        first = rows.first.inner_text()
        assert re.search(r"per (click|conversion)", first)
        assert "top slot at 19h: context" in first and "log-odds" in first
        assert re.search(r"interest .*\d\.\dx|matches the user's top interest", first)
        headline = rows.first.locator(".headline").inner_text()
        assert headline and not re.fullmatch(r"a\d+", headline)  # a headline, not an id
        # the interest term follows the ad's category: one value per category, not one for all
        pairs = {(r.get_attribute("data-category"), r.get_attribute("data-interest"))
                 for r in rows.all()}
        by_cat = {c: {i for cc, i in pairs if cc == c} for c, _ in pairs}
        assert all(len(v) == 1 for v in by_cat.values())
        if len(by_cat) > 1:
            assert len({i for _, i in pairs}) > 1
        check_text(page, "#tab-user")
        page.screenshot(path=str(shots / "dashboard-user.png"), full_page=True)
        violations["user"] = axe_violations(page)

        # creatives: the demo's stored creatives, approve one with the admin key
        page.click("button[data-tab=creative]")
        page.wait_for_selector("#creative-list[data-count]", timeout=15_000)
        pending = page.locator("#creatives-table .creative-row")
        n_pending = pending.count()
        assert n_pending >= 1
        assert "checks pass" in pending.first.inner_text()
        cid = pending.first.get_attribute("data-id")
        pending.first.locator("button.approve").click()
        page.wait_for_function(
            f"() => !document.querySelector('.creative-row[data-id=\"{cid}\"]')",
            timeout=15_000)
        assert page.locator("#creatives-table .creative-row").count() == n_pending - 1
        from adwise.creative._pipeline import get_creative
        assert get_creative(ws, cid)["status"] == "approved"
        check_text(page, "#tab-creative")
        page.screenshot(path=str(shots / "dashboard-creatives.png"), full_page=True)
        violations["creatives"] = axe_violations(page)
        page.close()

        # a read key sees the creatives but no approve / reject buttons
        page = browser.new_page()
        _connect(page, url, read_key, messages)
        page.click("button[data-tab=creative]")
        page.wait_for_selector("#creative-list[data-count]", timeout=15_000)
        assert page.locator("#creatives-table .creative-row").count() == n_pending - 1
        assert page.locator("#creatives-table button").count() == 0
        assert "may look but not approve" in page.inner_text("#creatives-scope")
        page.close()
    assert messages == []
    assert violations == {"overview": [], "user": [], "creatives": []}


def test_ads_route_gives_headline_category_and_price_in_the_asked_order(loaded_workspace):
    from fastapi.testclient import TestClient

    key, _ = KeyStore(loaded_workspace.path).create("viewer", "read")
    ads = loaded_workspace.query("SELECT ad_id, headline, category, bid FROM ads ORDER BY ad_id")
    ids = [str(ads["ad_id"].iloc[2]), "no-such-ad", str(ads["ad_id"].iloc[0])]
    with TestClient(create_app(loaded_workspace)) as client:
        r = client.get("/v1/delivery/ads", params={"ids": ",".join(ids)},
                       headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200
    got = r.json()["ads"]
    assert [a["ad_id"] for a in got] == [ids[0], ids[2]]
    assert got[0]["headline"] == ads["headline"].iloc[2]
    assert got[0]["category"] == ads["category"].iloc[2]
    assert got[0]["bid"] == ads["bid"].iloc[2]
