"""Seed stability: reads a corpus (default: the shared 9.9k HF daily papers), runs the pipeline
twice without a themes file (generated themes) with seeds 42 and 7, and prints the agreement of
the two runs' clusters and generated themes (adjusted Rand index over the papers both hold).

Usage: .venv/bin/python bench/bench_stability.py [--corpus PATH] [--seeds 42,7] [--json FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sklearn.metrics import adjusted_rand_score  # noqa: E402

from pipeline import contract  # noqa: E402
from pipeline.config import load_config  # noqa: E402
from pipeline.run import run_pipeline  # noqa: E402

HF = ROOT.parent / "shared/corpora/hf_daily_papers_2024_2026/hf_daily_papers_2024_2026.parquet"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(HF))
    parser.add_argument("--seeds", default="42,7")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    if not Path(args.corpus).exists():
        print(f"skipped: {args.corpus} is absent")
        return 0
    seeds = [int(s) for s in args.seeds.split(",")]
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            config = dataclasses.replace(load_config(None), seed=seed)
            started = time.perf_counter()
            summary = run_pipeline([args.corpus], config, Path(tmp) / f"s{seed}")
            run = contract.read_run(Path(tmp) / f"s{seed}", summary.run_id)
            print(
                f"seed {seed}: {summary.n_clusters} clusters, "
                f"{len(run.themes) - 1} generated themes, {time.perf_counter() - started:.0f} s"
            )
            runs.append(run.assignments.set_index("paper_id"))
    a, b = runs
    shared = a.index.intersection(b.index)
    clusters = adjusted_rand_score(a.loc[shared, "cluster_id"], b.loc[shared, "cluster_id"])
    themes = adjusted_rand_score(a.loc[shared, "theme_id"], b.loc[shared, "theme_id"])
    print(f"clusters ARI {clusters:.3f}; generated themes ARI {themes:.3f} ({len(shared)} papers)")
    if args.json:
        Path(args.json).write_text(json.dumps({"clusters_ari": clusters, "themes_ari": themes}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
