"""Ray engine benchmark. `synthetic`: reads nothing; makes N random unit vectors around planted
cluster centres (no model) and prints fit-on-a-sample + assignment of the rest (and placement
on the map), in process and as parallel Ray tasks, side by side with the ARI between them.
`embed`: reads the first abstracts of the 75k corpus and prints MiniLM's abstracts/s on the CPU,
in process and as the Ray Data job, per worker.

Usage: .venv/bin/python bench/bench_ray.py synthetic [--n 1000000] [--sample 20000] [--workers 2]
           [--dim 64] [--no-in-process] [--no-map]
       .venv/bin/python bench/bench_ray.py embed [--n 256] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ARXIV = ROOT.parent / "shared/corpora/arxiv_cs_daily_2025_2026/arxiv_cs_daily_2025_2026.parquet"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthetic(args) -> None:
    import numpy as np
    from sklearn.metrics import adjusted_rand_score

    from pipeline.assign import cluster_on_sample, layout_on_sample
    from pipeline.config import ClusterConfig, LayoutConfig, RayConfig
    from pipeline.embed import BertopicEmbedder
    from pipeline.engine.ray_engine import RayEngine, start_ray
    from tests.fake_embedder import FakeEmbedder, PlantedDocs, planted_vectors

    started = time.perf_counter()
    vectors, labels = planted_vectors(args.n, args.dim, args.clusters, args.seed)
    print(
        f"{args.n:,} planted vectors (dim {args.dim}, {args.clusters} clusters) made in "
        f"{time.perf_counter() - started:.1f} s",
        flush=True,
    )
    docs = PlantedDocs(labels)
    config = ClusterConfig(fit_sample=args.sample)
    keywords = BertopicEmbedder(FakeEmbedder(), None)
    rows = []
    results = {}
    engine = None
    sides = (["in-process"] if args.in_process else []) + ["ray"]
    for side in sides:
        chunks = {}
        if side == "ray":
            started = time.perf_counter()
            start_ray(num_cpus=args.workers, object_store_memory=args.object_store_mb * 1024**2)
            engine = RayEngine(RayConfig(assign_chunk=args.chunk))
            chunks = {"map_chunks": engine.map_chunks}
            print(f"ray started in {time.perf_counter() - started:.1f} s", flush=True)
        started = time.perf_counter()
        result = cluster_on_sample(docs, vectors, config, args.seed, keywords, **chunks)
        cluster_s = time.perf_counter() - started
        started = time.perf_counter()
        layout_s = float("nan")
        if args.map:
            layout = layout_on_sample(vectors, LayoutConfig(), args.seed, args.sample, **chunks)
            layout_s = time.perf_counter() - started
            if not (np.isfinite(layout.map_x).all() and np.isfinite(layout.map_y).all()):
                raise SystemExit(f"[{side}] map coordinates are not all finite")
        results[side] = result.cluster_ids
        rows.append(
            (
                side,
                cluster_s - result.timings_s["assign"],
                result.timings_s["assign"],
                layout_s,
                adjusted_rand_score(labels, result.cluster_ids),
                float((result.cluster_ids == -1).mean()),
                peak_mb(),
            )
        )
        print(f"[{side}] done: {rows[-1]}", flush=True)
    if engine is not None:
        import ray

        ray.shutdown()
    rest = args.n - args.sample
    print(
        f"\n{args.n:,} points, fit on {args.sample:,}, {rest:,} assigned, "
        f"{args.workers} Ray workers:"
    )
    print(
        f"  {'engine':<11} {'fit s':>7} {'assign s':>9} {'pts/s':>8} {'map s (fit+place)':>18} "
        f"{'ARI planted':>11} {'unassigned':>10} {'peak MB':>8}"
    )
    base = None
    for side, fit_s, assign_s, layout_s, ari, unassigned, peak in rows:
        base = base or assign_s
        print(
            f"  {side:<11} {fit_s:>7.1f} {assign_s:>9.1f} {rest / assign_s:>8.0f} "
            f"{layout_s:>18.1f} {ari:>11.3f} {unassigned:>10.1%} {peak:>8.0f}"
            f"   (assign x{base / assign_s:.2f})"
        )
    if len(results) == 2:
        ari = adjusted_rand_score(results["in-process"], results["ray"])
        print(f"  ARI in-process vs ray: {ari:.4f}")


def embed(args) -> None:
    import pyarrow.parquet as pq

    from pipeline.config import EmbedConfig, RayConfig
    from pipeline.embed import embedder_from_config, paper_text
    from pipeline.engine.ray_engine import RayEngine, start_ray
    from pipeline.records import Paper

    table = pq.read_table(ARXIV, columns=["title", "abstract"]).slice(0, args.n).to_pylist()
    papers = [
        Paper(paper_id=f"b:{i}", title=r["title"], abstract=r["abstract"])
        for i, r in enumerate(table)
    ]
    config = EmbedConfig(device="cpu")
    embedder = embedder_from_config(config)
    embedder.encode(["warm up"])  # model load outside the timing, as an actor's is below
    started = time.perf_counter()
    embedder.encode([paper_text(p) for p in papers])
    local_s = time.perf_counter() - started
    print(
        f"in process: {args.n} abstracts in {local_s:.1f} s = {args.n / local_s:.2f}/s "
        f"(torch threads: all cores)",
        flush=True,
    )
    start_ray(num_cpus=args.workers)
    engine = RayEngine(RayConfig(embed_actors=args.workers, embed_block=args.block))
    with tempfile.TemporaryDirectory(prefix="rte-bench-ray-") as cache:
        started = time.perf_counter()
        engine.embed_papers(papers, config, EmbedConfig(device="cpu", cache_dir=cache))
        ray_s = time.perf_counter() - started
    import ray

    ray.shutdown()
    rate = args.n / ray_s
    print(
        f"ray, {args.workers} actors x 1 CPU: {args.n} abstracts in {ray_s:.1f} s = "
        f"{rate:.2f}/s, {rate / args.workers:.2f}/s per worker (actor start and model load "
        "included)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    s = sub.add_parser("synthetic", help="fit on a sample + parallel assignment, no model")
    s.add_argument("--n", type=int, default=1_000_000)
    s.add_argument("--sample", type=int, default=20_000)
    s.add_argument("--dim", type=int, default=64)
    s.add_argument("--clusters", type=int, default=30)
    s.add_argument("--workers", type=int, default=2)
    s.add_argument("--chunk", type=int, default=20_000, help="ray.assign_chunk")
    s.add_argument("--object-store-mb", type=int, default=2048)
    s.add_argument("--seed", type=int, default=42)
    s.add_argument("--no-in-process", dest="in_process", action="store_false")
    s.add_argument("--no-map", dest="map", action="store_false", help="skip the map")
    e = sub.add_parser("embed", help="MiniLM abstracts/s on the CPU, in process and on Ray")
    e.add_argument("--n", type=int, default=256)
    e.add_argument("--workers", type=int, default=2)
    e.add_argument("--block", type=int, default=64, help="ray.embed_block")
    args = parser.parse_args(argv)
    synthetic(args) if args.what == "synthetic" else embed(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
