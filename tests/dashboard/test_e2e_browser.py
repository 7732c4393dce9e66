"""End to end: a real `streamlit run` server on 127.0.0.1 driven by headless Debian Chromium
through Playwright; opens every page, applies a filter, opens a cluster, searches by meaning,
starts a run from an upload, compares two runs, saves screenshots."""

from __future__ import annotations

import json
import os
import re
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pandas as pd
import pytest

from pipeline.embed import paper_text
from tests.fake_embedder import FakeEmbedder, planted_corpus
from tests.run_factory import SCRIPT_TITLE, make_run

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "tests" / "e2e_screenshots"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# The app is idle when its status widget no longer says "Running" and no skeleton is left.
IDLE_JS = """() => {
  const status = document.querySelector('[data-testid="stStatusWidget"]');
  if (status && status.innerText.includes('Running')) return false;
  return !document.querySelector('[data-testid^="stSkeleton"], [data-testid="stAppSkeleton"]');
}"""

# Page coordinates of the first paper of the map's last point layer (a theme: never the faint
# context layer), from Plotly's own axis mapping.
CLICK_TARGET_JS = """() => {
  const gd = document.querySelector('.js-plotly-plot');
  const layer = gd._fullData.filter(t => t.type === 'scattergl' && t.visible === true).pop();
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
  const box = gd.getBoundingClientRect();
  return [box.left + xa._offset + xa.l2p(layer.x[0]), box.top + ya._offset + ya.l2p(layer.y[0])];
}"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"{CHROMIUM} is absent: install it with "
        "`apt-get install -y chromium chromium-driver` (or `make browser`)",
    ),
]


FAKE = "tests.fake_embedder:FakeEmbedder"
PLANTED = dict(n_per_topic=20, seed=3)


def planted_run(runs: Path) -> np.ndarray:
    """Run `planted`: the planted-topic corpus embedded by the fake embedder (searchable by
    meaning); returns each paper row's topic."""
    papers, topics = planted_corpus(**PLANTED)
    texts = pd.DataFrame(
        {"title": [p.title for p in papers], "abstract": [p.abstract for p in papers]}
    )
    embedder = FakeEmbedder()
    make_run(
        runs,
        len(papers),
        seed=0,
        texts=texts,
        run_id="planted",
        include_script_title=False,
        embeddings=embedder.encode([paper_text(p) for p in papers]),
        embedding_model=embedder.model_id,
    )
    return np.array(topics)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    runs = tmp_path_factory.mktemp("e2e_runs")
    planted_run(runs)
    make_run(runs, 75, seed=0)  # the latest: the default run
    port = _free_port()
    env = {
        **os.environ,
        "RTE_RUNS_DIR": str(runs),
        "RTE_UPLOADS_DIR": str(tmp_path_factory.mktemp("e2e_uploads")),
        "RTE_EMBEDDER": FAKE,  # searches and runs started here use the fake embedder
    }
    log = open(tmp_path_factory.mktemp("e2e_log") / "streamlit.log", "w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "dashboard" / "app.py"),
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                with urllib.request.urlopen(base + "/_stcore/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("streamlit server did not start")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _watched(page, requests: list[str]):
    """`page`, with the URL of every request it makes appended to `requests`."""
    page.on("request", lambda request: requests.append(request.url))
    return page


def assert_local(requests: list[str]) -> None:
    """Every request went to the server on 127.0.0.1 (data: and blob: URLs stay in the page)."""
    assert requests, "no request was recorded"
    outside = sorted(
        {u for u in requests if urlparse(u).scheme not in ("data", "blob")}
        - {u for u in requests if urlparse(u).hostname == "127.0.0.1"}
    )
    assert outside == [], f"requests outside the server: {outside[:10]}"


def _settle(page) -> None:
    """Wait until the app has finished running its script."""
    page.wait_for_timeout(400)
    page.wait_for_function(IDLE_JS, timeout=60_000)
    page.wait_for_timeout(800)


def test_real_app_in_headless_chromium(server):
    """Every page renders in a real browser, a filter narrows the view, a cluster opens from its
    URL, a chart downloads as a 3200x1800 PNG, the <script> title shows as text (no dialog
    fires), and screenshots are saved."""
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    dialogs = []
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = _watched(browser.new_page(viewport={"width": 1500, "height": 2000}), requests)
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(server + "/", timeout=120_000)  # warm the first load once
            page.get_by_role("heading", name="Overview").wait_for(timeout=120_000)
            _settle(page)
            page.screenshot(path=str(SHOTS / "01_overview.png"), full_page=True)

            for n, (path, heading) in enumerate(
                [
                    ("map", "Paper map"),
                    ("timelines", "Timelines"),
                    ("clusters", "Clusters"),
                    ("review", "Review"),
                    ("presenter", None),  # its heading is the cluster's label
                ],
                start=2,
            ):
                page.goto(f"{server}/{path}", timeout=60_000)
                shown = (
                    page.get_by_role("heading", name=heading)
                    if heading
                    else page.get_by_text("Leave the presenter").first
                )
                shown.wait_for(timeout=60_000)
                _settle(page)
                if path in ("map", "timelines"):
                    page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
                    page.wait_for_timeout(1000)  # let Plotly draw
                page.screenshot(path=str(SHOTS / f"{n:02d}_{path}.png"), full_page=True)
            assert page.locator('[data-testid="stDataFrame"]').count() >= 1

            page.goto(f"{server}/map", timeout=60_000)  # lasso around the whole map
            page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
            _settle(page)
            page.locator('.modebar-btn[data-val="lasso"]').first.click(force=True)
            box = page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
            # keep clear of the legend along the top edge
            x0, y0 = box["x"] + 0.05 * box["width"], box["y"] + 0.15 * box["height"]
            x1, y1 = box["x"] + 0.95 * box["width"], box["y"] + 0.97 * box["height"]
            page.mouse.move(x0, y0)
            page.mouse.down()
            for x, y in ((x1, y0), (x1, y1), (x0, y1), (x0, y0 + 2)):
                page.mouse.move(x, y, steps=8)
            page.mouse.up()
            page.get_by_text("selected papers").first.wait_for(timeout=60_000)
            _settle(page)
            page.screenshot(path=str(SHOTS / "08_map_lasso.png"), full_page=True)
            n_selected = int(re.search(r"([\d,]+) selected papers", page.inner_text("body"))[1])
            # opening papers from the selection keeps it, and steps through it
            for step in (1, 2):
                page.get_by_role("button", name="Next →").click()
                page.get_by_text(f"Paper {step} of {n_selected} in this list").wait_for(
                    timeout=60_000
                )
                _settle(page)
                assert page.get_by_text(f"{n_selected} selected papers").count() == 1
            page.get_by_text("Nearest papers by embedding").wait_for(timeout=60_000)
            page.screenshot(path=str(SHOTS / "08b_map_selection_kept.png"), full_page=True)

            page.goto(f"{server}/map", timeout=60_000)  # a click on a point opens its paper
            page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
            _settle(page)
            x, y = page.evaluate(CLICK_TARGET_JS)
            page.mouse.click(x, y)
            page.get_by_text("Nearest papers by embedding").wait_for(timeout=60_000)
            _settle(page)
            assert "paper=" in page.url
            page.screenshot(path=str(SHOTS / "08c_map_point_clicked.png"), full_page=True)

            page.goto(f"{server}/timelines", timeout=60_000)
            page.get_by_role("heading", name="Timelines").wait_for(timeout=60_000)
            _settle(page)
            page.get_by_role("button", name="Export chart").first.click()
            with page.expect_download(timeout=120_000) as download:
                page.get_by_role("button", name="PNG (1600×900, 2×)").click()
            png = Path(download.value.path()).read_bytes()
            assert png[:8] == b"\x89PNG\r\n\x1a\n"
            assert struct.unpack(">II", png[16:24]) == (3200, 1800)
            page.keyboard.press("Escape")
            _settle(page)
            # clicking a point of the timeline lists that theme's papers of that period
            page.locator(".js-plotly-plot .scatterlayer .points path").nth(3).click(force=True)
            page.get_by_text(re.compile(r"^\d+ papers$")).first.wait_for(timeout=60_000)
            _settle(page)
            page.screenshot(path=str(SHOTS / "09_timeline_click.png"), full_page=True)

            page.goto(f"{server}/map", timeout=60_000)
            page.get_by_role("heading", name="Paper map").wait_for(timeout=60_000)
            _settle(page)
            search = page.get_by_label("Search title, abstract, authors", exact=True)
            search.fill("mixture")
            search.press("Enter")
            page.get_by_text("Showing", exact=False).first.wait_for(timeout=60_000)
            _settle(page)
            assert "q=mixture" in page.url
            page.screenshot(path=str(SHOTS / "05_map_filtered.png"), full_page=True)
            shared_url = page.url
            # another "browser": the URL restores it
            other = _watched(browser.new_context().new_page(), requests)
            other.goto(shared_url, timeout=60_000)
            # the restored search box fills in with the script run, which may finish after
            # "Showing" is first drawn: wait for the value instead of reading it once
            expect(other.get_by_label("Search title, abstract, authors", exact=True)).to_have_value(
                "mixture", timeout=60_000
            )
            other.close()

            page.goto(f"{server}/clusters?cluster=1", timeout=60_000)
            page.get_by_text("All 1", exact=False)  # noqa: B018 - locator only
            page.get_by_role("button", name="← All clusters").wait_for(timeout=60_000)
            _settle(page)
            assert page.get_by_text("Representative papers").count() == 1
            page.screenshot(path=str(SHOTS / "06_cluster.png"), full_page=True)

            page.goto(f"{server}/map?paper=arxiv:2501.00000", timeout=60_000)
            page.get_by_text("Nearest papers by embedding").wait_for(timeout=60_000)
            _settle(page)
            body = page.inner_text("body")
            assert SCRIPT_TITLE in body
            page.screenshot(path=str(SHOTS / "07_paper_detail.png"), full_page=True)
        finally:
            browser.close()
    assert dialogs == [], f"a script in paper text ran: {dialogs}"
    assert_local(requests)


def test_search_by_meaning_in_headless_chromium(server):
    """On a run embedded with the (fake) model, a query no paper contains ('dexterous hands')
    highlights the planted robot papers on the map and lists them ranked by meaning."""
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    _, topics = planted_corpus(**PLANTED)
    n_robot = topics.count("robot")
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = _watched(browser.new_page(viewport={"width": 1500, "height": 1800}), requests)
            page.goto(f"{server}/map?run=planted", timeout=120_000)
            page.get_by_role("heading", name="Paper map").wait_for(timeout=120_000)
            _settle(page)
            search = page.get_by_label("Search title, abstract, authors", exact=True)
            search.fill("dexterous hands")
            search.press("Enter")
            page.get_by_text("more by meaning").first.wait_for(timeout=60_000)
            _settle(page)
            shown = re.search(r"Showing (\d+) of", page.inner_text("body"))
            assert shown and n_robot * 0.9 <= int(shown.group(1)) <= n_robot * 1.1
            page.get_by_text("Search results, best first").first.click()
            _settle(page)
            page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
            page.wait_for_timeout(1000)
            page.screenshot(path=str(SHOTS / "10_search_by_meaning.png"), full_page=True)
        finally:
            browser.close()
    assert_local(requests)


def test_new_run_from_an_upload_in_headless_chromium(server, tmp_path):
    """The New run page takes an uploaded export, shows the background run's progress, then
    its rejected record, and the new run opens from the page."""
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    papers, _ = planted_corpus(n_per_topic=6, seed=5, topics=["data", "rl", "robot"])
    export = tmp_path / "week48.jsonl"
    rows = [{"id": p.paper_id.replace(":", "-"), "title": p.title, "abstract": p.abstract,
             "published": p.published} for p in papers]  # fmt: skip
    rows.append({"id": "short-1", "title": "Too short", "abstract": "Three words only."})
    export.write_text("".join(json.dumps(r) + "\n" for r in rows))
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = _watched(browser.new_page(viewport={"width": 1500, "height": 1600}), requests)
            page.goto(f"{server}/new_run", timeout=120_000)
            page.get_by_role("heading", name="New run").wait_for(timeout=120_000)
            _settle(page)
            page.locator('[data-testid="stFileUploader"] input[type="file"]').first.set_input_files(
                str(export)
            )
            page.get_by_text("week48.jsonl").first.wait_for(timeout=60_000)
            _settle(page)
            page.screenshot(path=str(SHOTS / "11_new_run_form.png"), full_page=True)
            page.get_by_role("button", name="Start the run").click()
            page.get_by_text("A run is in progress").wait_for(timeout=60_000)
            page.get_by_text("papers embedded").first.wait_for(timeout=120_000)
            page.screenshot(path=str(SHOTS / "12_new_run_progress.png"), full_page=True)
            page.get_by_text("is ready").first.wait_for(timeout=600_000)
            _settle(page)
            expect(page.get_by_text("Rejected records and warnings (1)")).to_be_visible()
            page.screenshot(path=str(SHOTS / "13_new_run_done.png"), full_page=True)
            page.get_by_role("button", name="Open the new run").click()
            page.get_by_role("heading", name="Overview").wait_for(timeout=60_000)
            _settle(page)
            assert "18 papers" in page.inner_text('[data-testid="stSidebar"]')
            page.screenshot(path=str(SHOTS / "14_new_run_opened.png"), full_page=True)
        finally:
            browser.close()
    assert_local(requests)


def test_compare_runs_in_headless_chromium(server):
    """The Compare page draws the flow between two runs' clusters and lists what changed."""
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = _watched(browser.new_page(viewport={"width": 1500, "height": 2400}), requests)
            page.goto(f"{server}/compare", timeout=120_000)
            page.get_by_role("heading", name="Compare runs").wait_for(timeout=120_000)
            _settle(page)
            page.locator(".js-plotly-plot .sankey").first.wait_for(timeout=60_000)
            page.wait_for_timeout(1000)
            assert page.get_by_text("What changed").count() == 1
            page.screenshot(path=str(SHOTS / "15_compare.png"), full_page=True)
        finally:
            browser.close()
    assert_local(requests)
