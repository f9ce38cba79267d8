"""The demo's report in headless Chromium, offline: every chart drawn by the vendored runtime,
no empty chart, no NaN, no console error, a screenshot, and an axe-core accessibility pass."""

from __future__ import annotations

import re

import pytest

from browser_helpers import (
    axe_violations,
    check_charts,
    check_text,
    chromium,
    run_small_demo,
    shot_dir,
)


@pytest.mark.slow
def test_report_draws_every_chart_offline(tmp_path):
    printed = run_small_demo(tmp_path / "demo")
    report = tmp_path / "demo" / "report.html"
    assert report.resolve().as_uri() in printed
    messages: list[str] = []
    requested: list[str] = []
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: messages.append(f"{m.type}: {m.text}")
                if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
        # anything but the file itself would be a fetch from the network: refuse and record it
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:")
                   else (requested.append(r.request.url), r.abort()))
        page.goto(report.as_uri())
        n = check_charts(page)
        text = check_text(page)
        page.screenshot(path=str(shot_dir(tmp_path) / "report.png"), full_page=True)
        violations = axe_violations(page)
        titles = page.locator("[data-vl]").evaluate_all(
            "(ns) => ns.map((n) => n.dataset.title)")
        sections = page.locator("main section").count()
        findings = page.locator("main section .finding").count()
        # in each section: the finding first, then its charts, then its tables
        order = page.evaluate("""() => [...document.querySelectorAll('main section')].map((s) => {
            const kids = [...s.querySelectorAll('.finding, figure, .nodata, table')];
            const kind = (e) => e.matches('.finding') ? 0 : e.matches('table') ? 2 : 1;
            return {title: s.querySelector('h2').textContent, kinds: kids.map(kind)}; })""")
        # the accessibility pass does find what it looks for
        page.set_content("<html lang='en'><title>t</title><main><input id='x'>"
                         "<p style='color:#ccc'>faint</p></main></html>")
        seen = {v["id"] for v in axe_violations(page)}
        page.close()
    assert {"label", "color-contrast"} <= seen
    assert requested == [] and messages == []
    assert violations == []
    assert n >= 8
    for title in ("CTR by hour of day", "CTR by placement", "CTR by placement x hour",
                  "Reliability: observed click rate per predicted-probability bin",
                  "True slot effects"):
        assert title in titles
    # every section opens with its finding in words
    assert findings >= sections
    for sec in order:
        kinds = sec["kinds"]
        assert kinds and kinds[0] == 0, sec
        first_table = kinds.index(2) if 2 in kinds else len(kinds)
        assert 1 not in kinds[first_table:], sec  # no chart below a table
    # every stored creative passed every check the creative capability runs
    assert "Creative: stored creatives" in text
    assert re.search(r"all \d+ checks pass", text) and "checks pass; failed" not in text
