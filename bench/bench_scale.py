"""Clustering at scale: reads a corpus and its filled embedding cache; prints the cluster stage's
time and peak memory when fitting on all papers and when fitting on a sample (`cluster.fit_sample`)
and assigning the rest, side by side, with the ARI between their clusters.

Each side runs in its own child process (peak memory is ru_maxrss, its own).
Usage: .venv/bin/python bench/bench_scale.py --cache-dir DIR [--corpus PATH] [--sample 50000]...
       [--model bundled|fast]
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


def child(corpus: str, cache_dir: str, model: str, sample: int, seed: int, out: str) -> dict:
    """Embed (from the cache), then the neighbours and cluster stages as `pipeline run` does."""
    import numpy as np

    from pipeline.assign import cluster_on_sample
    from pipeline.cluster import cluster_papers
    from pipeline.config import ClusterConfig, EmbedConfig, IngestConfig
    from pipeline.embed import BertopicEmbedder, embed_papers, embedder_from_config, paper_text
    from pipeline.ingest import ingest
    from pipeline.neighbours import neighbour_graph, neighbour_width

    papers = ingest([Path(corpus)], IngestConfig()).papers
    embed_config = EmbedConfig(model=model, cache_dir=cache_dir)
    embedder = embedder_from_config(embed_config)
    embedded = embed_papers(papers, embedder, embed_config)
    vectors, docs = embedded.embeddings, [paper_text(p) for p in papers]
    config = ClusterConfig(fit_sample=sample)
    keywords = BertopicEmbedder(embedder, cache_dir)
    started = time.perf_counter()
    if 0 < sample < len(papers):
        result = cluster_on_sample(docs, vectors, config, seed, keywords)
        knn_s = 0.0
    else:
        knn = neighbour_graph(vectors, neighbour_width(len(papers)), seed)
        knn_s = time.perf_counter() - started
        result = cluster_papers(docs, vectors, config, seed, keywords, knn=knn)
    seconds = time.perf_counter() - started
    np.save(out, result.cluster_ids)
    return {
        "sample": sample,
        "n_papers": len(papers),
        "n_embedded": embedded.n_embedded,
        "seconds": seconds,
        "neighbours_s": knn_s,
        "timings_s": result.timings_s,
        "n_clusters": result.n_clusters,
        "unassigned_share": result.n_unassigned / len(papers),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(ARXIV), help="input file (default: the 75k corpus)")
    parser.add_argument("--cache-dir", required=True, help="embedding cache holding the corpus")
    parser.add_argument("--model", default="bundled", help="embed.model of that cache")
    parser.add_argument("--sample", type=int, action="append", help="fit_sample sizes to compare")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        result = child(args.corpus, args.cache_dir, args.model, args.child, args.seed, args.out)
        print(json.dumps(result))
        return 0
    import numpy as np
    from sklearn.metrics import adjusted_rand_score

    results = []
    with tempfile.TemporaryDirectory(prefix="rte-scale-") as tmp:
        for sample in [0, *(args.sample or [50_000])]:
            print(f"[fit_sample={sample}] ...", file=sys.stderr, flush=True)
            out = str(Path(tmp) / f"ids-{sample}.npy")
            common = ["--corpus", args.corpus, "--cache-dir", args.cache_dir, "--model", args.model]
            proc = subprocess.run(
                [sys.executable, __file__, *common, "--seed", str(args.seed)]
                + ["--child", str(sample), "--out", out],
                capture_output=True,
                text=True,
                cwd=ROOT,
            )
            if proc.returncode != 0:
                raise SystemExit(f"benchmark child failed: {sample}\n{proc.stderr[-3000:]}")
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            results[-1]["ids"] = np.load(out)
    full = results[0]
    print(f"clustering {full['n_papers']} papers, full fit against fit-on-a-sample:")
    print(
        f"  {'fit_sample':>10} {'cluster s':>9} {'x full':>6} {'peak MB':>8} {'clusters':>8} "
        f"{'unassigned':>10} {'ARI vs full':>11}"
    )
    for r in results:
        ari = adjusted_rand_score(full["ids"], r["ids"])
        ratio = r["seconds"] / full["seconds"]
        print(
            f"  {r['sample'] or 'all':>10} {r['seconds']:>9.1f} {ratio:>6.2f} {r['peak_mb']:>8.0f} "
            f"{r['n_clusters']:>8} {r['unassigned_share']:>10.1%} {ari:>11.3f}"
        )
        r["ari_vs_full"] = ari
        del r["ids"]
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
