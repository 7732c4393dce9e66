"""Clustering at scale: reads a corpus and its filled embedding cache; prints the cluster stage's
time and peak memory when fitting on all papers and when fitting on a sample (`cluster.fit_sample`)
and assigning the rest, side by side, with the ARI between their clusters.

Each side runs in its own child process (peak memory is ru_maxrss, its own). The other papers are
placed by `graph_place` (the default); `--transform` also runs each sample with UMAP's `transform`.
`--max-features N` also runs each sample with that c-TF-IDF vocabulary cap (`cluster.max_features`;
the other rows use the config's default). `--umap` also runs each sample in UMAP's clustering
space (`cluster.reduction = "umap"`; the other rows use the default, spectral). `--slice N` reads
the first N papers of the corpus.
Usage: .venv/bin/python bench/bench_scale.py --cache-dir DIR [--corpus PATH] [--slice N]
       [--sample 20000]... [--transform] [--max-features N]... [--umap] [--model bundled|fast]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ARXIV = ROOT.parent / "shared/corpora/arxiv_cs_daily_2025_2026/arxiv_cs_daily_2025_2026.parquet"


def child(
    corpus: str,
    cache_dir: str,
    model: str,
    sample: int,
    seed: int,
    out: str,
    n_slice: int = 0,
    transform: bool = False,
    max_features: int = 0,
    reduction: str = "spectral",
) -> dict:
    """Embed (from the cache), then the neighbours and cluster stages as `pipeline run` does;
    `sample` is `cluster.fit_sample` (-1: fit on all)."""
    import numpy as np

    from pipeline.assign import cluster_on_sample
    from pipeline.cluster import cluster_papers
    from pipeline.config import ClusterConfig, EmbedConfig, IngestConfig
    from pipeline.embed import BertopicEmbedder, embed_papers, embedder_from_config, paper_text
    from pipeline.ingest import ingest
    from pipeline.neighbours import neighbour_graph, neighbour_width

    papers = ingest([Path(corpus)], IngestConfig(limit=n_slice)).papers
    embed_config = EmbedConfig(model=model, cache_dir=cache_dir)
    embedder = embedder_from_config(embed_config)
    embedded = embed_papers(papers, embedder, embed_config)
    vectors, docs = embedded.embeddings, [paper_text(p) for p in papers]
    config = ClusterConfig(fit_sample=sample, max_features=max_features, reduction=reduction)
    keywords = BertopicEmbedder(embedder, cache_dir)
    started, cpu_started = time.perf_counter(), time.process_time()
    if 0 < sample < len(papers):
        result = cluster_on_sample(docs, vectors, config, seed, keywords, quick=not transform)
        knn_s = 0.0
    else:
        knn = neighbour_graph(vectors, neighbour_width(len(papers)), seed)
        knn_s = time.perf_counter() - started
        result = cluster_papers(docs, vectors, config, seed, keywords, knn=knn)
    seconds = time.perf_counter() - started
    cpu_s = time.process_time() - cpu_started  # under load, wall time says more about the load
    np.save(out, result.cluster_ids)
    vocabulary = getattr(result.model.vectorizer_model, "vocabulary_", None) or {}
    return {
        "sample": sample,
        "assign": "transform" if transform else "graph_place",
        "max_features": max_features,
        "reduction": reduction,
        "n_vocabulary": len(vocabulary),
        "n_papers": len(papers),
        "n_embedded": embedded.n_embedded,
        "seconds": seconds,
        "cpu_s": cpu_s,
        "neighbours_s": knn_s,
        "timings_s": result.timings_s,
        "n_clusters": result.n_clusters,
        "unassigned_share": result.n_unassigned / len(papers),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "labels": {str(k): v for k, v in result.labels.items()},
        "keywords": {str(k): list(v) for k, v in result.keywords.items()},
    }


def _variant(text: str) -> tuple[bool, int, str]:
    """(transform, max_features, reduction) of a child's variant: "", "transform",
    "max_features=N" or "umap"."""
    if text.startswith("max_features="):
        return False, int(text.split("=", 1)[1]), "spectral"
    return text == "transform", 0, "umap" if text == "umap" else "spectral"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(ARXIV), help="input file (default: the 75k corpus)")
    parser.add_argument("--cache-dir", required=True, help="embedding cache holding the corpus")
    parser.add_argument("--model", default="bundled", help="embed.model of that cache")
    parser.add_argument("--sample", type=int, action="append", help="fit_sample sizes to compare")
    parser.add_argument("--slice", type=int, default=0, help="first N papers only (0: all)")
    parser.add_argument("--transform", action="store_true", help="also assign by UMAP transform")
    parser.add_argument(
        "--max-features", type=int, action="append", default=[], help="also with this cap"
    )
    parser.add_argument("--umap", action="store_true", help="also in UMAP's clustering space")
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        transform, max_features, reduction = _variant(args.variant or "")
        result = child(
            args.corpus,
            args.cache_dir,
            args.model,
            args.child,
            args.seed,
            args.out,
            args.slice,
            transform,
            max_features,
            reduction,
        )
        print(json.dumps(result))
        return 0
    import numpy as np
    from sklearn.metrics import adjusted_rand_score

    runs = [(-1, "")]
    for sample in args.sample or [20_000]:
        runs.append((sample, ""))
        if args.transform:
            runs.append((sample, "transform"))
        runs.extend((sample, f"max_features={m}") for m in args.max_features)
        if args.umap:
            runs.append((sample, "umap"))
    results = []
    with tempfile.TemporaryDirectory(prefix="rte-scale-") as tmp:
        for i, (sample, variant) in enumerate(runs):
            print(f"[fit_sample={sample} {variant}] ...", file=sys.stderr, flush=True)
            out = str(Path(tmp) / f"ids-{i}.npy")
            common = ["--corpus", args.corpus, "--cache-dir", args.cache_dir, "--model", args.model]
            proc = subprocess.run(
                [sys.executable, __file__, *common, "--seed", str(args.seed)]
                + ["--slice", str(args.slice), "--variant", variant]
                + ["--child", str(sample), "--out", out],
                capture_output=True,
                text=True,
                cwd=ROOT,
            )
            if proc.returncode != 0:
                raise SystemExit(
                    f"benchmark child failed: {sample} {variant}\n{proc.stderr[-3000:]}"
                )
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            results[-1]["ids"] = np.load(out)
    full = results[0]
    print(f"clustering {full['n_papers']} papers, full fit against fit-on-a-sample:")
    print(
        f"  {'fit_sample':>10} {'space':>8} {'assign':>11} {'max_feat':>8} {'vocabulary':>10} "
        f"{'cluster s':>9} "
        f"{'x full':>6} {'CPU s':>7} {'x full':>6} {'peak MB':>8} {'clusters':>8} "
        f"{'unassigned':>10} {'ARI vs full':>11}"
    )
    for r in results:
        ari = adjusted_rand_score(full["ids"], r["ids"])
        ratio = r["seconds"] / full["seconds"]
        cpu_ratio = r["cpu_s"] / full["cpu_s"]
        sample = r["sample"] if 0 < r["sample"] < r["n_papers"] else "all"
        print(
            f"  {sample:>10} {r['reduction']:>8} {r['assign']:>11} "
            f"{r['max_features'] or 'none':>8} "
            f"{r['n_vocabulary']:>10} {r['seconds']:>9.1f} {ratio:>6.2f} {r['cpu_s']:>7.1f} "
            f"{cpu_ratio:>6.2f} {r['peak_mb']:>8.0f} "
            f"{r['n_clusters']:>8} {r['unassigned_share']:>10.1%} {ari:>11.3f}"
        )
        r["ari_vs_full"] = ari
    for r in results:
        del r["ids"]
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
