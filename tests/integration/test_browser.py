"""The dashboards in a real browser: Debian's Chromium, driven by Playwright, opens `equity ui`
(started as the README says), finds the `dashboards` group, opens a chart asset and sees its
rendered image, and launches a backfill of two feed dates by clicking, as an operator would.
Screenshots go to the test's temporary folder.

It skips, saying so, only where Chromium is not installed (`.ci/run` installs Debian's package;
`apt-get install chromium` does it by hand). No browser is ever downloaded."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from orchestration import constants
from orchestration.settings import REPO_ROOT
from orchestration.runs.local_runs import free_port
from tests.support.project import CLEAN_ENV, _graphql

pytestmark = pytest.mark.xdist_group("project")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
LOCATION = "equity-connect"
CANCEL = """mutation($id: String!) { cancelPartitionBackfill(backfillId: $id) { __typename } }"""
BACKFILLS = """{ partitionBackfillsOrError(limit: 20) { ... on PartitionBackfills { results {
    id status partitionNames assetSelection { path } } } } }"""


@pytest.fixture
def ui():
    """`equity ui` as the README starts it, on the project's own state — with a daily cap of 0, so
    the feed runs the test's backfill starts (it is cancelled at once) feed nobody."""
    import signal

    port = free_port()
    log = open(REPO_ROOT / ".pytest_browser_ui.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([str(os.path.relpath(os.path.join(os.path.dirname(sys.executable), "equity"),
                                                 REPO_ROOT)), "ui", "--port", str(port)],
                            cwd=REPO_ROOT, env=CLEAN_ENV | {"EC_DAILY_FEED_CAP": "0"}, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def wait_for_location(port: int, proc, timeout_s: float = 240) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        data = _graphql(port)
        entries = (data or {}).get("workspaceOrError", {}).get("locationEntries") or []
        if entries and (entries[0].get("locationOrLoadError") or {}).get("__typename") == "RepositoryLocation":
            return
        time.sleep(2)
    raise AssertionError("the code location never loaded; see .pytest_browser_ui.log")


def feed_dates(n: int) -> list[str]:
    """The n latest feed dates that have partitions (weekdays up to the next morning)."""
    from orchestration.defs.campaign.feed import feed_partitions

    keys = feed_partitions.get_partition_keys(current_time=datetime.now(ZoneInfo(constants.TIMEZONE)))
    return keys[-n - 2:-2]   # not the next mornings: dates whose feed is due


@pytest.fixture
def browser_page(tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium is not installed here (`apt-get install chromium`; .ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(60_000)
        try:
            yield page
        finally:
            page.screenshot(path=str(tmp_path / "last.png"), full_page=True)
            browser.close()


def dismiss_welcome(page) -> None:
    """The UI greets a new browser with a community dialog once: skip it as a person would."""
    skip = page.get_by_role("button", name="Skip")
    try:
        skip.wait_for(timeout=5_000)
    except Exception:   # noqa: BLE001 - not shown: nothing to dismiss
        return
    skip.click()


def test_an_operator_sees_the_dashboards_and_backfills_two_feed_dates(ui, browser_page, tmp_path):
    proc, port = ui
    wait_for_location(port, proc)
    # the dashboards as the 05:30 refresh leaves them
    out = subprocess.run([os.path.join(os.path.dirname(sys.executable), "equity"), "refresh"], cwd=REPO_ROOT,
                         env=CLEAN_ENV, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    page, base = browser_page, f"http://127.0.0.1:{port}"

    page.goto(f"{base}/locations/{LOCATION}/asset-groups/dashboards")
    dismiss_welcome(page)
    page.get_by_text("scores_dashboard").first.wait_for()
    page.screenshot(path=str(tmp_path / "dashboards_group.png"), full_page=True)

    page.goto(f"{base}/assets/scores_dashboard")
    page.get_by_text("[Show Markdown]").first.click()         # the chart's metadata entry
    chart = page.locator('img[src^="data:image/png"]').first
    chart.wait_for()
    chart.scroll_into_view_if_needed()
    assert chart.evaluate("img => img.complete && img.naturalWidth") > 100     # decoded, not a broken image
    page.screenshot(path=str(tmp_path / "scores_dashboard.png"), full_page=True)

    dates = feed_dates(2)
    before = {b["id"] for b in (_graphql(port, BACKFILLS) or {}).get("partitionBackfillsOrError", {})
              .get("results", [])}
    page.goto(f"{base}/assets/campaign_feed")
    page.get_by_role("button", name="Materialize", exact=False).first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Custom").click()
    selection = dialog.get_by_role("textbox").first              # the partition range, typed as the UI shows it
    selection.fill(f"[{dates[0]}...{dates[1]}]")
    selection.press("Tab")
    dialog.get_by_text("2 partitions").first.wait_for()
    page.screenshot(path=str(tmp_path / "backfill_dialog.png"), full_page=True)
    dialog.get_by_role("button", name="Launch backfill").click()

    deadline, launched = time.monotonic() + 120, []
    while time.monotonic() < deadline and not launched:
        results = (_graphql(port, BACKFILLS) or {}).get("partitionBackfillsOrError", {}).get("results", [])
        launched = [b for b in results if b["id"] not in before]
        time.sleep(1)
    assert launched, "no backfill was created by the click"
    _graphql(port, CANCEL, {"id": launched[0]["id"]})
    assert sorted(launched[0]["partitionNames"]) == dates
    assert [a["path"] for a in launched[0]["assetSelection"]] == [["campaign_feed"]]
    page.screenshot(path=str(tmp_path / "backfill_launched.png"), full_page=True)
