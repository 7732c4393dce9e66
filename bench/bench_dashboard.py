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
With --browser: the large run served by a real `streamlit run` and opened in headless Debian
Chromium (Playwright, /usr/bin/chromium): the map figure's size as sent (JSON) and the seconds
from opening /map to the points drawn, first (server cache cold) and again (warm, a new tab);
--root serves another checkout (repeat it to compare checkouts, e.g. before and after a
change, on the same run).
Usage: python bench/bench_dashboard.py [--small 75] [--large 74728] | --dates [--papers 5000]
       | --browser [--large 74728] [--root DIR ...]
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

from dashboard.meeting_pack import pack_for_run  # noqa: E402
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


def browser_times(runs_dir: Path, root: Path) -> dict[str, float]:
    """Seconds from opening /map to the map drawn in headless Chromium: first (the server
    reads the run) and again in a new tab (caches warm, best of three)."""
    from playwright.sync_api import sync_playwright

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
    out: dict[str, float] = {}
    try:
        for _ in range(240):
            try:
                with urllib.request.urlopen(base + "/_stcore/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            times = []
            for _ in range(4):
                page = browser.new_page(viewport={"width": 1500, "height": 1200})
                start = time.perf_counter()
                page.goto(base + "/map", timeout=900_000)
                page.wait_for_function(MAP_DRAWN_JS, timeout=900_000, polling=50)
                times.append(time.perf_counter() - start)
                page.close()
            browser.close()
        out["time to map, first (s)"] = times[0]
        out["time to map, warm (s, best of 3)"] = min(times[1:])
    finally:
        server.terminate()
        server.wait(timeout=30)
    return out


def main_browser(n: int, roots: list[Path]) -> None:
    """The map of the large run in a real browser, served by each checkout in `roots` in turn
    (the same run): figure size and time to the drawn map, side by side."""
    texts = pd.read_parquet(
        CORPUS, columns=["arxiv_id", "listing_date", "title", "abstract", "authors"]
    )
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "large"
        make_run(runs, min(n, len(texts)), seed=0, texts=texts, dim=384)
        for root in roots:
            results[root] = {"map figure sent (MB)": map_figure_bytes(runs, root) / 1e6}
            results[root] |= browser_times(runs, root)
            print(f"measured {root}", flush=True)
    print(f"\nmap of {min(n, len(texts)):,} papers in headless Chromium")
    print(f"{'':<34}  " + "  ".join(f"{str(r)[-24:]:>24}" for r in roots))
    for key in results[roots[0]]:
        print(f"{key:<34}  " + "  ".join(f"{results[r][key]:>24.2f}" for r in roots))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=75)
    parser.add_argument("--large", type=int, default=74_728)
    parser.add_argument("--dates", action="store_true", help="the hostile-dates comparison")
    parser.add_argument("--papers", type=int, default=5_000, help="papers per run with --dates")
    parser.add_argument("--browser", action="store_true", help="the map in headless Chromium")
    parser.add_argument(
        "--root",
        type=Path,
        action="append",
        help="checkout to serve (--browser; repeat to compare, e.g. before and after a change)",
    )
    args = parser.parse_args()
    if args.browser:
        main_browser(args.large, [r.resolve() for r in args.root or [ROOT]])
        return
    if args.dates:
        main_dates(args.papers)
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
