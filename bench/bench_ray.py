"""Ray engine benchmark. `synthetic`: reads nothing; makes N random unit vectors around planted
cluster centres (no model) and prints fit-on-a-sample + assignment of the rest (and placement
on the map), in process and as parallel Ray tasks, side by side with the ARI between them.
`embed`: reads the first abstracts of the 75k corpus (or `--texts`) and prints MiniLM's
abstracts/s in process and as the Ray Data job with each of `--actors` actors (on a GPU machine:
`--device auto`; more actors than GPUs share them).

Usage: .venv/bin/python bench/bench_ray.py synthetic [--n 1000000] [--sample 20000] [--workers 2]
           [--dim 64] [--no-in-process] [--no-map]
       .venv/bin/python bench/bench_ray.py embed [--n 256] [--workers 2] [--actors 1 2]
           [--texts F.jsonl.xz] [--model DIR] [--device auto] [--block 1024] [--json F]
"""

from __future__ import annotations

import argparse
import functools
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


def _papers(args) -> list:
    """The papers `embed` times: the first abstracts of the 75k corpus, or `--texts` (one JSON
    string per line, xz-compressed, as bench_gpu.py reads) each as a paper's title."""
    from pipeline.records import Paper

    if args.texts:
        import json
        import lzma

        with lzma.open(args.texts, "rt") as lines:
            texts = [json.loads(line) for _, line in zip(range(args.n), lines, strict=False)]
        return [Paper(paper_id=f"b:{i}", title=t, abstract="") for i, t in enumerate(texts)]
    import pyarrow.parquet as pq

    table = pq.read_table(ARXIV, columns=["title", "abstract"]).slice(0, args.n).to_pylist()
    return [
        Paper(paper_id=f"b:{i}", title=r["title"], abstract=r["abstract"])
        for i, r in enumerate(table)
    ]


def _record(done: list[tuple[float, int]], k: int) -> None:
    done.append((time.perf_counter(), (done[-1][1] if done else 0) + k))


def embed(args) -> None:
    import json

    from pipeline.config import EmbedConfig, RayConfig
    from pipeline.embed import embedder_from_config, paper_text
    from pipeline.engine.ray_engine import RayEngine, embed_actor_count, start_ray

    papers = _papers(args)
    texts = [paper_text(p) for p in papers]
    config = EmbedConfig(model=args.model, device=args.device)
    embedder = embedder_from_config(config)
    embedder.encode(["warm up"])  # model load outside the timing, as an actor's is below
    started = time.perf_counter()
    embedder.encode(texts)
    local_s = time.perf_counter() - started
    rows = [{"side": "in process", "actors": 1, "n": len(texts), "seconds": round(local_s, 2)}]
    print(f"in process ({embedder.device}): {len(texts) / local_s:.1f}/s", flush=True)
    start_ray(num_cpus=args.workers, object_store_memory=args.object_store_mb * 2**20)
    import ray

    total = ray.cluster_resources()
    print(f"ray resources: {total}", flush=True)
    for configured in args.actors:
        engine = RayEngine(RayConfig(embed_actors=configured, embed_block=args.block))
        actors, _ = embed_actor_count(
            configured, total.get("GPU", 0), total["CPU"], -(-len(texts) // args.block)
        )
        done: list[tuple[float, int]] = []  # (time, texts embedded so far) per block back
        with tempfile.TemporaryDirectory(prefix="rte-bench-ray-") as cache:
            started = time.perf_counter()
            engine.embed_papers(
                papers,
                config,
                EmbedConfig(model=args.model, device=args.device, cache_dir=cache),
                functools.partial(_record, done),
            )
            ray_s = time.perf_counter() - started
        # After the first block is back (actors started, models loaded): the steady rate.
        (t_first, n_first), (t_last, n_last) = done[0], done[-1]
        steady = (n_last - n_first) / (t_last - t_first) if t_last > t_first else float("nan")
        rows.append(
            {
                "side": "ray",
                "configured": configured,
                "actors": actors,
                "n": len(texts),
                "seconds": round(ray_s, 2),
                "first_block_s": round(t_first - started, 2),
                "steady_per_s": round(steady, 1),
            }
        )
        print(
            f"ray, {actors} actors: {len(texts) / ray_s:.1f}/s overall (actor start and model "
            f"load included; first block back after {t_first - started:.1f} s), "
            f"{steady:.1f}/s after the first block",
            flush=True,
        )
    ray.shutdown()
    for row in rows:
        row["per_s"] = round(row["n"] / row["seconds"], 1)
    if args.json:
        Path(args.json).write_text(json.dumps({"device": args.device, "rows": rows}, indent=1))


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
    e.add_argument("--workers", type=int, default=2, help="CPUs Ray may use")
    e.add_argument(
        "--actors", type=int, nargs="+", default=[2], help="ray.embed_actors (0 = default)"
    )
    e.add_argument("--block", type=int, default=64, help="ray.embed_block")
    e.add_argument("--texts", default="", help="JSON strings, one per line, .xz (else arXiv)")
    e.add_argument("--model", default="bundled", help="embed.model")
    e.add_argument("--device", default="cpu", help="embed.device")
    e.add_argument("--object-store-mb", type=int, default=1024)
    e.add_argument("--json", default="", help="write the rows here")
    args = parser.parse_args(argv)
    synthetic(args) if args.what == "synthetic" else embed(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
