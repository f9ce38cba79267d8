"""Shared checks of the browser tests (report and dashboard) in Debian's Chromium via Playwright.

The browser is the system one (never downloaded); axe-core (MPL-2.0, vendored from the npm
registry in ``tests/_vendor``) runs inside the page, offline.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
from collections.abc import Iterator
from pathlib import Path

from optional_parts import needs

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
AXE = Path(__file__).parent / "_vendor" / "axe.min.js"
# Words that mean a number went missing on the way to the page.
BAD_TEXT = re.compile(r"\bNaN\b|\bundefined\b|\bInfinity\b|\[object Object\]")


@contextlib.contextmanager
def chromium() -> Iterator[object]:
    """A headless Chromium (skips, or fails in CI, when Chromium or Playwright is missing)."""
    needs(CHROMIUM.exists(),
          "the browser tests need /usr/bin/chromium (apt-get install -y chromium)")
    needs(importlib.util.find_spec("playwright") is not None,
          "the browser tests need `pip install playwright`")
    from playwright import sync_api

    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def shot_dir(tmp_path: Path) -> Path:
    """Where screenshots go: ``$ADWISE_SCREENSHOTS`` (kept by CI) or the test's tmp folder."""
    d = Path(os.environ.get("ADWISE_SCREENSHOTS") or tmp_path / "screenshots")
    d.mkdir(parents=True, exist_ok=True)
    return d


def wait_for_charts(page, root: str = "body", timeout: float = 30_000) -> int:
    """Wait until every chart placeholder under ``root`` is drawn; return how many there are."""
    page.wait_for_function(
        """(root) => { const r = document.querySelector(root);
             const all = r.querySelectorAll('[data-vl]');
             return all.length > 0 && [...all].every((n) =>
               n.dataset.drawn === 'ok' || n.dataset.drawn === 'error'); }""",
        arg=root, timeout=timeout)
    return page.locator(f"{root} [data-vl]").count()


def check_charts(page, root: str = "body") -> int:
    """Every chart drew an SVG with marks and axes or a legend (no error, no empty frame);
    return the number of charts."""
    n = wait_for_charts(page, root)
    errors = page.locator(f"{root} [data-drawn=error]").all_inner_texts()
    assert errors == [], errors
    stats = page.evaluate(
        """(root) => [...document.querySelector(root).querySelectorAll('[data-vl]')].map((n) => ({
             title: n.dataset.title,
             svg: n.querySelectorAll('svg').length,
             marks: n.querySelectorAll('svg g.mark-rect path, svg g.mark-symbol path,'
               + ' svg g.mark-line path, svg g.mark-area path, svg g.mark-rule line,'
               + ' svg g.mark-rect path').length,
             text: n.textContent }))""", root)
    for s in stats:
        assert s["svg"] == 1, s
        assert s["marks"] > 0, f"chart {s['title']!r} drew no marks"
        assert not BAD_TEXT.search(s["text"]), s
    return n


def check_text(page, root: str = "body") -> str:
    """The visible text has no NaN / undefined / raw dict; return it."""
    text = page.locator(root).inner_text()
    bad = BAD_TEXT.findall(text)
    assert not bad, bad
    assert not re.search(r"\{'[^']+': ", text), "a raw Python dict is printed"
    return text


def axe_violations(page, root: str | None = None) -> list[dict]:
    """axe-core's WCAG 2 A/AA violations on the page (labels, contrast, names, landmarks...)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # evaluated through the DevTools protocol: the dashboard's CSP forbids inline scripts
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;0")
    res = page.evaluate(
        """(root) => axe.run(root ? document.querySelector(root) : document,
             {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}})""", root)
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"][:5]]} for v in res["violations"]]


def run_small_demo(out: Path) -> str:
    """``adwise demo`` on a small world (template creatives: no language model); return what
    it printed."""
    import io

    from rich.console import Console

    from adwise._demo import run_demo

    buf = io.StringIO()
    old = os.environ.get("ADWISE_DEMO_CREATIVE_BACKEND")
    os.environ["ADWISE_DEMO_CREATIVE_BACKEND"] = "template"
    try:
        run_demo(out, users=800, ads=40, days=4, seed=7, console=Console(file=buf, width=300))
    finally:
        if old is None:
            del os.environ["ADWISE_DEMO_CREATIVE_BACKEND"]
        else:
            os.environ["ADWISE_DEMO_CREATIVE_BACKEND"] = old
    return buf.getvalue()
