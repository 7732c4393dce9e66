"""Seed stability: reads a corpus (default: the shared 9.9k HF daily papers), runs the pipeline
without a themes file (generated themes) once per seed (default 42, 7 and 1), and prints the
agreement of every two runs' clusters and generated themes (adjusted Rand index over the papers
both hold), then the lowest and the mean over the pairs.

Usage: .venv/bin/python bench/bench_stability.py [--corpus PATH] [--seeds 42,7,1] [--json FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
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
    parser.add_argument("--seeds", default="42,7,1")
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
    pairs = {"clusters": [], "themes": []}
    for (seed_a, a), (seed_b, b) in itertools.combinations(zip(seeds, runs, strict=True), 2):
        shared = a.index.intersection(b.index)
        clusters = adjusted_rand_score(a.loc[shared, "cluster_id"], b.loc[shared, "cluster_id"])
        themes = adjusted_rand_score(a.loc[shared, "theme_id"], b.loc[shared, "theme_id"])
        pairs["clusters"].append(clusters)
        pairs["themes"].append(themes)
        print(
            f"seeds {seed_a} and {seed_b}: clusters ARI {clusters:.3f}; "
            f"generated themes ARI {themes:.3f} ({len(shared)} papers)"
        )
    result = {"seeds": seeds}
    for name, values in pairs.items():
        result[f"{name}_ari_min"] = min(values)
        result[f"{name}_ari_mean"] = sum(values) / len(values)
        print(f"{name}: lowest ARI {min(values):.3f}, mean {result[f'{name}_ari_mean']:.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
