"""Server-side time per dashboard page render at two corpus sizes, side by side.

Builds two synthetic runs with tests/run_factory.py: a small one (generated text) and a large
one whose titles/abstracts/authors/dates are the real arXiv cs papers of
../shared/corpora/arxiv_cs_daily_2025_2026 (cluster/theme assignments, map and embeddings are
synthetic). Each page is rendered with Streamlit's AppTest (script run + figure/table
serialisation, no browser) and timed: cold load, first render of each page, and a rerun after a
filter change. Usage: python bench/bench_dashboard.py [--small 75] [--large 74728]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=75)
    parser.add_argument("--large", type=int, default=74_728)
    args = parser.parse_args()
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
