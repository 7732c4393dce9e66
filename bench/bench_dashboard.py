"""Server-side time per dashboard page render at two corpus sizes, side by side; with --dates,
Timelines and the meeting pack on runs whose dates are spread in hostile ways.

Builds synthetic runs with tests/run_factory.py. Default: a small one (generated text) and a
large one whose titles/abstracts/authors/dates are the real arXiv cs papers of
../shared/corpora/arxiv_cs_daily_2025_2026 (cluster/theme assignments, map and embeddings are
synthetic). Each page is rendered with Streamlit's AppTest (script run + figure/table
serialisation, no browser) and timed: cold load, first render of each page, and a rerun after a
filter change. With --dates: four runs of the same size (the usual two years, the same with one
paper from 1948, dates spread from year 1000 to 9999, twenty years of monthly data), the
Timelines page in every period kind and the meeting pack (no images) on each, with ratios
against the usual run.
With --browser: the large run (or, with --run, the latest run of an existing runs folder, e.g.
a real pipeline run) served by a real `streamlit run` and opened in headless Debian Chromium
(Playwright, /usr/bin/chromium): the map figure's size as sent (JSON) and the seconds from
opening /map to the map drawn, first (server cache cold) and again (warm, a new tab; and a new
tab of a browser that has the page's scripts cached); --root
serves another checkout (repeat it to compare checkouts, e.g. before and after a change, on
the same run); --screenshot FILE saves the last checkout's map. The last two columns time
floors alike: a Streamlit page holding one three-point chart (the least a map page costs on
this machine) and one holding only a title (the least any Streamlit page costs).
With --million: a synthetic run of 1,000,000 papers (planted clusters, random vectors, no
model; --papers to change the size) and the Map page rendered once with AppTest: seconds and
the peak memory (RSS) of the process.
Usage: python bench/bench_dashboard.py [--small 75] [--large 74728] | --dates [--papers 5000]
       | --browser [--large 74728 | --run RUNS_DIR] [--root DIR ...] [--screenshot FILE]
       | --million [--papers 1000000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from dashboard import data_access  # noqa: E402
from dashboard.meeting_pack import pack_for_run  # noqa: E402
from pipeline import contract  # noqa: E402
from pipeline.contract import PERIOD_KINDS  # noqa: E402
from tests.dashboard.test_e2e_browser import ARGS as CHROMIUM_ARGS  # noqa: E402
from tests.dashboard.test_e2e_browser import CHROMIUM  # noqa: E402
from tests.run_factory import make_run  # noqa: E402

CORPUS = (
    ROOT.parent
    / "shared"
    / "corpora"
    / "arxiv_cs_daily_2025_2026"
    / "arxiv_cs_daily_2025_2026.parquet"
)
APP = str(ROOT / "dashboard" / "app.py")
PAGES = ["overview", "map", "timelines", "clusters"]
SEARCHES = ["language model", "diffusion", "reinforcement learning", "benchmark"]


def _timed(at: AppTest) -> float:
    start = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - start
    if at.exception:
        raise RuntimeError(at.exception[0].value)
    return elapsed


def measure(runs_dir: Path) -> dict[str, float]:
    """Seconds per step for the run in `runs_dir` (caches start cold for this folder)."""
    os.environ["RTE_RUNS_DIR"] = str(runs_dir)
    out: dict[str, float] = {}
    at = AppTest.from_file(APP, default_timeout=600)
    at.switch_page("app_pages/map.py")
    out["map, cold (load run + first render)"] = _timed(at)
    out["map, rerun (nothing changed)"] = _timed(at)
    # Each page gets its own theme and search words, so no filter result is cached already.
    for i, page in enumerate(PAGES):
        at = AppTest.from_file(APP, default_timeout=600)
        at.switch_page(f"app_pages/{page}.py")
        out[f"{page}: first render (run cached)"] = _timed(at)
        themes = at.sidebar.multiselect[0]
        themes.select(themes.options[i % len(themes.options)])
        out[f"{page}: filter change (theme)"] = _timed(at)
        at.sidebar.text_input[0].input(SEARCHES[i])
        out[f"{page}: filter change (search)"] = _timed(at)
    at = AppTest.from_file(APP, default_timeout=600)
    at.query_params["cluster"] = "1"
    at.switch_page("app_pages/clusters.py")
    out["one cluster's page"] = _timed(at)
    return out


def paper_detail_time(runs_dir: Path, paper_id: str) -> tuple[float, float]:
    """(first, second) render of the map with a paper detail open (nearest papers)."""
    os.environ["RTE_RUNS_DIR"] = str(runs_dir)
    at = AppTest.from_file(APP, default_timeout=600)
    at.query_params["paper"] = paper_id
    at.switch_page("app_pages/map.py")
    first = _timed(at)
    return first, _timed(at)


def spread_dates(n: int, start: str, end: str, seed: int = 0) -> list[dt.date]:
    """`n` seeded random dates, uniform from `start` to `end` (ISO dates)."""
    first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    days = np.random.default_rng(seed).integers(0, (last - first).days + 1, n)
    return [first + dt.timedelta(days=int(d)) for d in days]


def date_runs(n: int) -> dict[str, list[dt.date] | None]:
    """The runs of the --dates comparison: name -> paper dates (None: make_run's two years)."""
    with_1948 = spread_dates(n, "2022-01-01", "2024-12-31")
    with_1948[0] = dt.date(1948, 6, 1)
    return {
        "2 years (usual)": None,
        "+ one paper of 1948": with_1948,
        "years 1000-9999": spread_dates(n, "1000-01-01", "9999-12-31"),
        "20 years, monthly": spread_dates(n, "2006-01-01", "2025-12-31"),
    }


def measure_dates(runs_dir: Path, repeats: int = 3) -> dict[str, float]:
    """Timelines in each period kind (run already cached; a new session each time, best of
    `repeats`) and the meeting pack (best of two), in seconds."""
    os.environ["RTE_RUNS_DIR"] = str(runs_dir)
    out: dict[str, float] = {}
    _timed(AppTest.from_file(APP, default_timeout=600))  # read the run and prepare its views
    for kind in PERIOD_KINDS:
        times = []
        for _ in range(repeats):
            at = AppTest.from_file(APP, default_timeout=600)
            at.query_params["period"] = kind
            at.switch_page("app_pages/timelines.py")
            times.append(_timed(at))
        out[f"timelines by {kind}: render"] = min(times)
        fig = json.loads(at.get("plotly_chart")[0].proto.spec)
        out[f"timelines by {kind}: periods shown"] = float(len(fig["data"][0]["x"]))
    times = []
    for _ in range(2):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            pack_for_run(runs_dir, None, tmp, Path(tmp) / "review.sqlite", images=False)
            times.append(time.perf_counter() - start)
    out["meeting pack, no images"] = min(times)
    return out


def main_dates(n: int) -> None:
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        make_run(Path(tmp) / "warm-up", 50, seed=0)
        measure_dates(Path(tmp) / "warm-up", repeats=1)  # imports and first-use costs
        for i, (name, dates) in enumerate(date_runs(n).items()):
            runs = Path(tmp) / f"dates{i}"
            make_run(runs, n, seed=0, dates=dates)
            results[name] = measure_dates(runs)
            print(f"measured {name}", flush=True)
    names = list(results)
    width = max(len(k) for k in results[names[0]])
    print(f"\n{n:,} papers; seconds (periods shown: count); ratio = against the usual run")
    print(f"{'':<{width}}  " + "  ".join(f"{name:>20}" for name in names))
    for key in results[names[0]]:
        base = results[names[0]][key]
        fmt = "{:>9,.0f}" if "periods" in key else "{:>9.3f}"
        cells = [fmt.format(results[name][key]) for name in names[:1]]
        cells += [
            fmt.format(results[name][key]) + f" ({results[name][key] / max(base, 1e-9):>5.1f}x)"
            for name in names[1:]
        ]
        print(f"{key:<{width}}  " + "  ".join(f"{c:>20}" for c in cells))


# The map is drawn when Plotly has built its WebGL traces and the app's script has finished.
MAP_DRAWN_JS = """() => {
  const gd = document.querySelector('.js-plotly-plot');
  if (!gd || !gd._fullData || !gd._fullData.length || !gd.querySelector('canvas')) return false;
  const status = document.querySelector('[data-testid="stStatusWidget"]');
  return !(status && status.innerText.includes('Running'));
}"""


def map_figure_bytes(runs_dir: Path, root: Path) -> int:
    """Bytes of the map figure's JSON (what the server sends) as the code under `root` builds
    it, for the run in `runs_dir`, no filters (run in a subprocess: `root` may be another
    checkout)."""
    code = (
        "import sys; from pathlib import Path; from streamlit.testing.v1 import AppTest\n"
        f"at = AppTest.from_file({str(root / 'dashboard' / 'app.py')!r}, default_timeout=900)\n"
        "at.switch_page('app_pages/map.py'); at.run()\n"
        "print(len(at.get('plotly_chart')[0].proto.spec))\n"
    )
    env = {**os.environ, "RTE_RUNS_DIR": str(runs_dir)}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, check=True
    )
    return int(out.stdout.strip().splitlines()[-1])


# A page without a chart is done when its title is there and its script has finished.
TITLE_DRAWN_JS = """() => {
  const status = document.querySelector('[data-testid="stStatusWidget"]');
  return !!document.querySelector('h1') && !(status && status.innerText.includes('Running'));
}"""

# The floors, served and timed alike: a Streamlit page holding one three-point WebGL chart (what
# any map page costs at least), and one holding only a title (what any Streamlit page costs).
FLOOR = "floor: one 3-point chart"
FLOOR_APP = """import plotly.graph_objects as go
import streamlit as st

st.title("One chart")
st.plotly_chart(go.Figure(go.Scattergl(x=[1, 2, 3], y=[1, 3, 2], mode="markers")))
"""
FLOORS = {
    FLOOR: (FLOOR_APP, MAP_DRAWN_JS),
    "floor: a title only": ('import streamlit as st\n\nst.title("No chart")\n', TITLE_DRAWN_JS),
}


def _cpu_seconds(pid: int) -> float:
    """CPU seconds process `pid` has used (user + system; Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _settle(pid: int, limit: float = 240.0) -> float:
    """Wait until process `pid` is idle (under 5% of a core over 2 s; at most `limit` s) and
    return the seconds waited: after the first page the server may still be busy (a run made
    with the bundled model loads the search model in a background thread), and warm timings
    should not race it."""
    start = time.perf_counter()
    used = _cpu_seconds(pid)
    while time.perf_counter() - start < limit:
        time.sleep(2.0)
        now = _cpu_seconds(pid)
        if now - used < 0.1:
            break
        used = now
    return time.perf_counter() - start


def _serve(root: Path, runs_dir: Path) -> tuple[subprocess.Popen, str]:
    """Start `streamlit run` of the app under `root` on a free port; (process, base URL) once
    it answers its health check."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "RTE_RUNS_DIR": str(runs_dir)}
    command = [sys.executable, "-m", "streamlit", "run", str(root / "dashboard" / "app.py")]
    command += ["--server.address", "127.0.0.1", "--server.port", str(port)]
    command += ["--server.headless", "true", "--browser.gatherUsageStats", "false"]
    server = subprocess.Popen(
        command, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            with urllib.request.urlopen(base + "/_stcore/health", timeout=2):
                break
        except OSError:
            time.sleep(0.5)
    return server, base


def browser_times(
    runs_dir: Path, apps: dict[str, tuple[Path, str, str]], screenshot: Path | None = None
) -> dict[str, dict[str, float]]:
    """Per app (name -> (checkout, page path, JS true once drawn)): seconds from opening the
    page to the map (or the floor page) drawn
    in headless Chromium, first (the server reads the run) and, once every server is idle
    again, in new tabs (server caches warm; three rounds, the apps taking turns, so a change in
    the machine's load falls on all alike): each tab in a new browser context, so the page's
    scripts (Streamlit's and Plotly's, about 7 MB) are fetched and compiled again as on a first
    visit, and each in one kept context per app, as a returning visitor whose browser cached
    them. The first app's last tab is saved to `screenshot`."""
    from playwright.sync_api import sync_playwright

    servers = {name: _serve(root, runs_dir) for name, (root, *_) in apps.items()}
    out: dict[str, dict[str, float]] = {name: {} for name in apps}
    times: dict[str, list[float]] = {name: [] for name in apps}
    cached: dict[str, list[float]] = {name: [] for name in apps}
    viewport = {"width": 1500, "height": 1200}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            kept = {name: browser.new_context(viewport=viewport) for name in apps}

            def open_page(name: str, into: list, context=None, shot: Path | None = None) -> None:
                page = context.new_page() if context else browser.new_page(viewport=viewport)
                start = time.perf_counter()
                page.goto(servers[name][1] + apps[name][1], timeout=900_000)
                page.wait_for_function(apps[name][2], timeout=900_000, polling=50)
                into.append(time.perf_counter() - start)
                if shot is not None:
                    page.wait_for_timeout(1500)  # the labels' fade-in
                    page.screenshot(path=str(shot), full_page=True)
                page.close()

            for name in apps:
                open_page(name, times[name], kept[name])  # also fills the kept browser cache
                out[name]["server busy after the first page (s)"] = _settle(servers[name][0].pid)
            for i in range(3):
                for j, name in enumerate(apps):
                    open_page(name, times[name], shot=screenshot if i == 2 and j == 0 else None)
                    open_page(name, cached[name], kept[name])
            browser.close()
    finally:
        for server, _ in servers.values():
            server.terminate()
            server.wait(timeout=30)
    for name, taken in times.items():
        out[name]["time to map, first (s)"] = taken[0]
        out[name]["time to map, warm (s, best of 3)"] = min(taken[1:])
        out[name]["time to map, warm (s, worst of 3)"] = max(taken[1:])
        out[name]["... browser cache warm (s, best of 3)"] = min(cached[name])
        out[name]["... browser cache warm (s, worst of 3)"] = max(cached[name])
    return out


def main_browser(
    n: int, roots: list[Path], run_dir: Path | None = None, screenshot: Path | None = None
) -> None:
    """The map of the large run in a real browser (or of the latest run in `run_dir`, a runs
    folder), served by each checkout in `roots` (the same run) and by the floor app: figure
    size and time to the drawn map, side by side. The review store is a fresh file, so no
    checkout reads or writes the runs folder's."""
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["RTE_REVIEW_DB"] = str(Path(tmp) / "review.sqlite")
        if run_dir is None:
            texts = pd.read_parquet(
                CORPUS, columns=["arxiv_id", "listing_date", "title", "abstract", "authors"]
            )
            n = min(n, len(texts))
            runs = Path(tmp) / "large"
            make_run(runs, n, seed=0, texts=texts, dim=384)
        else:
            runs = run_dir
            latest = contract.latest_run_id(runs)
            if latest is None:
                sys.exit(f"no complete run named by {runs / contract.LATEST}")
            entry = next(e for e in contract.list_runs(runs) if e.run_id == latest)
            n = entry.manifest.counts.n_papers
        for root in roots:
            results[str(root)] = {"map figure sent (MB)": map_figure_bytes(runs, root) / 1e6}
        # the last checkout given (the change, when comparing) goes first: the screenshot's
        apps = {str(r): (r, "/map", MAP_DRAWN_JS) for r in roots[::-1]}
        for i, (name, (source, done_js)) in enumerate(FLOORS.items()):
            floor = Path(tmp) / f"floor{i}"
            (floor / "dashboard").mkdir(parents=True)
            (floor / "dashboard" / "app.py").write_text(source)
            results[name] = {"map figure sent (MB)": float("nan")}
            apps[name] = (floor, "/", done_js)
        for name, times in browser_times(runs, apps, screenshot).items():
            results[name] |= times
    print(f"\nmap of {n:,} papers in headless Chromium (load average now {_load()})")
    width = max(map(len, results[str(roots[0])]))
    print(f"{'':<{width}}  " + "  ".join(f"{r[-26:]:>26}" for r in results))
    for key in results[str(roots[0])]:
        print(f"{key:<{width}}  " + "  ".join(f"{v[key]:>26.2f}" for v in results.values()))


def _load() -> str:
    """The machine's load average (1, 5, 15 minutes): these timings depend on it."""
    return ", ".join(f"{v:.1f}" for v in os.getloadavg())


def _run_id(runs: Path) -> str:
    """The newest run's id, without reading its tables (time and memory are being measured)."""
    return contract.latest_run_id(runs)


def _shown(at: AppTest) -> str:
    """'Showing N of M papers' of the page's filter banner after the last rerun."""
    banner = [c.value for c in at.caption if c.value.startswith("Showing ")]
    return banner[0].split(" of ")[0].removeprefix("Showing ") + " shown" if banner else "?"


def main_million(n: int) -> None:
    """A synthetic run of `n` papers (planted clusters, random vectors, no model; generated
    text) and the Map page rendered once with AppTest: seconds and the peak RSS."""
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["RTE_REVIEW_DB"] = str(Path(tmp) / "review.sqlite")
        runs = Path(tmp) / "million"
        start = time.perf_counter()
        make_run(runs, n, seed=0, dim=8, n_clusters=200, include_script_title=False)
        built = time.perf_counter() - start
        after_build = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"built {n:,} papers in {built:.0f} s (peak RSS {after_build:,.0f} MB)", flush=True)
        os.environ["RTE_RUNS_DIR"] = str(runs)
        at = AppTest.from_file(APP, default_timeout=3600)
        at.switch_page("app_pages/map.py")
        times = {"first render (read run, prepare views, density, figure)": _timed(at)}
        times["rerun, nothing changed"] = _timed(at)
        spec = at.get("plotly_chart")[0].proto.spec
        kinds = sorted({t["type"] for t in json.loads(spec)["data"]})
        # A person reads the map before searching: the word index builds in the background
        # after the first render (data_access.warm_word_index); timed apart, then the filters.
        started = time.perf_counter()
        data_access._word_index(str(runs), _run_id(runs), None).result()
        times["word index, built after the first render (background)"] = (
            time.perf_counter() - started
        )
        themes = at.sidebar.multiselect[0]
        themes.select(themes.options[0])
        times["filter change (theme)"] = _timed(at)
        for words in (SEARCHES[1], "robot", "memory benchmark"):  # 0, ~14%, ~3% of the papers
            at.sidebar.text_input[0].input(words)
            times[f"filter change (search '{words}', {_shown(at)})"] = _timed(at)
        at.sidebar.text_input[0].input("")
        times["filter change (search cleared)"] = _timed(at)
        at.sidebar.multiselect[0].set_value([])
        times["filter change (theme cleared)"] = _timed(at)
        at.sidebar.text_input[0].input("robot")
        times[f"filter change (search 'robot', every theme, {_shown(at)})"] = _timed(at)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nMap page, {n:,} papers (AppTest, this process; load average {_load()})")
    for what, seconds in times.items():
        print(f"{what:<58} {seconds:8.2f} s")
    print(f"map figure sent: {len(spec) / 1e6:.2f} MB; traces: {', '.join(kinds)}")
    print(
        f"peak memory (RSS) of the process: {peak:,.0f} MB (after building the run: "
        f"{after_build:,.0f} MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=75)
    parser.add_argument("--large", type=int, default=74_728)
    parser.add_argument("--dates", action="store_true", help="the hostile-dates comparison")
    parser.add_argument(
        "--papers", type=int, help="papers per run: --dates (5,000), --million (1,000,000)"
    )
    parser.add_argument("--browser", action="store_true", help="the map in headless Chromium")
    parser.add_argument(
        "--root",
        type=Path,
        action="append",
        help="checkout to serve (--browser; repeat to compare, e.g. before and after a change)",
    )
    parser.add_argument(
        "--run",
        type=Path,
        help="--browser: a runs folder (with its `latest` file) to serve instead of building one",
    )
    parser.add_argument("--screenshot", type=Path, help="--browser: save the map here (PNG)")
    parser.add_argument("--million", action="store_true", help="the Map page at 1M papers")
    args = parser.parse_args()
    if args.browser:
        roots = [r.resolve() for r in args.root or [ROOT]]
        main_browser(args.large, roots, args.run and args.run.resolve(), args.screenshot)
        return
    if args.million:
        main_million(args.papers or 1_000_000)
        return
    if args.dates:
        main_dates(args.papers or 5_000)
        return
    if not CORPUS.is_file():
        sys.exit(f"corpus not found: {CORPUS}")
    texts = pd.read_parquet(
        CORPUS, columns=["arxiv_id", "listing_date", "title", "abstract", "authors"]
    )
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, n, kwargs in (
            ("small", args.small, {}),
            ("large", min(args.large, len(texts)), {"texts": texts, "dim": 384}),
        ):
            runs = Path(tmp) / label
            start = time.perf_counter()
            make_run(runs, n, seed=0, **kwargs)
            print(
                f"built {label} run: {n} papers in {time.perf_counter() - start:.1f} s", flush=True
            )
            results[n] = measure(runs)
            pid = f"arxiv:{texts['arxiv_id'].iloc[5]}" if kwargs else "arxiv:2501.00005"
            first, again = paper_detail_time(runs, pid)
            results[n]["map + paper detail, first (loads embeddings)"] = first
            results[n]["map + paper detail, again"] = again
    small, large = sorted(results)
    width = max(len(k) for k in results[small])
    print(f"\n{'server time per render (s)':<{width}}  {small:>9,}  {large:>9,}  {'ratio':>7}")
    for key in results[small]:
        a, b = results[small][key], results[large][key]
        print(f"{key:<{width}}  {a:>9.3f}  {b:>9.3f}  {b / max(a, 1e-9):>6.1f}x")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory of the process (both runs loaded): {peak_mb:,.0f} MB")


if __name__ == "__main__":
    main()
