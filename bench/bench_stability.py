"""Seed stability: reads a corpus (default: the shared 9.9k HF daily papers), runs the pipeline
without a themes file (generated themes) once per seed (default 42, 7 and 1) and once per
clustering space (`cluster.reduction`, default spectral and umap), and prints the agreement of
every two runs' clusters and generated themes (adjusted Rand index over the papers both hold),
then the lowest and the mean over the pairs. A space without randomness agrees with itself by
construction, so each space is also run on `--drop` random 90% subsets of the corpus (first seed):
the agreement of those clusters with the full run's, over the papers the subset holds, says
whether clusters are fragile.

Usage: .venv/bin/python bench/bench_stability.py [--corpus PATH] [--seeds 42,7,1]
           [--reductions spectral,umap] [--drop 2] [--json FILE]
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


def _run(paths: list[str], config, folder: Path) -> tuple:
    started = time.perf_counter()
    summary = run_pipeline(paths, config, folder)
    run = contract.read_run(folder, summary.run_id)
    return summary, run.assignments.set_index("paper_id"), time.perf_counter() - started


def _ari(a, b, column: str) -> float:
    shared = a.index.intersection(b.index)
    return adjusted_rand_score(a.loc[shared, column], b.loc[shared, column])


def _subset(corpus: str, seed: int, path: Path) -> str:
    """90% of the corpus's rows, drawn with `seed`, written as Parquet."""
    import pandas as pd

    frame = pd.read_parquet(corpus)
    frame.sample(frac=0.9, random_state=seed).to_parquet(path)
    return str(path)


def stability(corpus: str, reduction: str, seeds: list[int], drops: int, tmp: Path) -> dict:
    base = load_config(None)
    base = dataclasses.replace(base, cluster=dataclasses.replace(base.cluster, reduction=reduction))
    runs = []
    for seed in seeds:
        summary, run, seconds = _run(
            [corpus], dataclasses.replace(base, seed=seed), tmp / f"s{seed}"
        )
        generated = run["theme_id"].nunique()
        print(
            f"{reduction}, seed {seed}: {summary.n_clusters} clusters, {generated} generated "
            f"themes, {seconds:.0f} s"
        )
        runs.append(run)
    pairs: dict[str, list[float]] = {"clusters": [], "themes": [], "subset_clusters": []}
    for (seed_a, a), (seed_b, b) in itertools.combinations(zip(seeds, runs, strict=True), 2):
        pairs["clusters"].append(_ari(a, b, "cluster_id"))
        pairs["themes"].append(_ari(a, b, "theme_id"))
        print(
            f"{reduction}, seeds {seed_a} and {seed_b}: clusters ARI {pairs['clusters'][-1]:.3f}; "
            f"generated themes ARI {pairs['themes'][-1]:.3f}"
        )
    for drop in range(drops):
        subset = _subset(corpus, 100 + drop, tmp / f"subset{drop}.parquet")
        config = dataclasses.replace(base, seed=seeds[0])
        _, run, seconds = _run([subset], config, tmp / f"d{drop}")
        pairs["subset_clusters"].append(_ari(runs[0], run, "cluster_id"))
        print(
            f"{reduction}, 90% subset {drop + 1}: clusters ARI with the full run "
            f"{pairs['subset_clusters'][-1]:.3f}, {seconds:.0f} s"
        )
    result: dict = {"reduction": reduction, "seeds": seeds}
    for name, values in pairs.items():
        if values:
            result[f"{name}_ari_min"] = min(values)
            result[f"{name}_ari_mean"] = sum(values) / len(values)
            mean = result[f"{name}_ari_mean"]
            print(f"{reduction}, {name}: lowest ARI {min(values):.3f}, mean {mean:.3f}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(HF))
    parser.add_argument("--seeds", default="42,7,1")
    parser.add_argument("--reductions", default="spectral,umap")
    parser.add_argument("--drop", type=int, default=2, help="90%% subsets per space (0: none)")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    if not Path(args.corpus).exists():
        print(f"skipped: {args.corpus} is absent")
        return 0
    seeds = [int(s) for s in args.seeds.split(",")]
    results = []
    for reduction in args.reductions.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            results.append(stability(args.corpus, reduction, seeds, args.drop, Path(tmp)))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
