"""Pipeline benchmark: reads a corpus (the bundled sample, the shared 9.9k HF daily-papers corpus,
the shared 75k arXiv cs corpus, or any input path); prints per-stage times, cold (empty embedding
cache) and warm (cache filled), next to BERTopic's defaults on the same papers and embeddings,
with ratios and peak memory.

Each measured side runs in its own child process, so peak memory (ru_maxrss) is its own.
Usage: .venv/bin/python bench/bench_pipeline.py [--corpus sample|hf|arxiv|PATH]... [--no-baseline]
         [--config FILE] [--cache-dir DIR] [--warm-only]
       (also: python -m pipeline bench ...)
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

CORPORA = {
    "sample": [ROOT / "data/sample/papers_page_pretraining.txt"],
    "hf": [
        ROOT.parent / "shared/corpora/hf_daily_papers_2024_2026/hf_daily_papers_2024_2026.parquet"
    ],
    "arxiv": [
        ROOT.parent / "shared/corpora/arxiv_cs_daily_2025_2026/arxiv_cs_daily_2025_2026.parquet"
    ],
}
THEMES = {"sample": ROOT / "data/themes.toml"}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_ours(
    inputs: list[str], cache: str, runs: str, themes: str | None, config_file: str | None
) -> dict:
    """One full pipeline run (ingest .. write) with the given embedding cache folder. The peak
    memory of the process so far is noted as each step ends (`peak_mb_after`), so the step that
    raised the peak shows."""
    import contextlib
    import dataclasses

    from pipeline.config import load_config
    from pipeline.run import run_pipeline
    from pipeline.timing import Timings

    peaks: dict[str, float] = {}
    step = Timings.step

    @contextlib.contextmanager
    def noted(self, name):
        with step(self, name):
            yield
        peaks[name] = _peak_mb()

    Timings.step = noted  # bench only: the pipeline itself keeps no memory figures
    config = load_config(config_file)
    config = dataclasses.replace(config, embed=dataclasses.replace(config.embed, cache_dir=cache))
    started = time.perf_counter()
    summary = run_pipeline(inputs, config, runs, themes_file=themes or None)
    return {
        "peak_mb_after": peaks,
        "total_s": time.perf_counter() - started,
        "timings_s": summary.timings_s,
        "n_papers": summary.n_papers,
        "n_clusters": summary.n_clusters,
        "unassigned_share": summary.unassigned_share,
        "embedded": summary.embed_computed,
        "run_path": str(summary.path),
        "peak_mb": _peak_mb(),
    }


def child_bertopic(inputs: list[str], embeddings: str) -> dict:
    """BERTopic with its defaults and the same bundled model, on the same papers and embeddings."""
    import numpy as np
    from bertopic import BERTopic
    from sentence_transformers import SentenceTransformer

    from pipeline.config import IngestConfig
    from pipeline.embed import bundled_model_path, paper_text
    from pipeline.ingest import ingest

    papers = ingest([Path(p) for p in inputs], IngestConfig()).papers
    docs = [paper_text(p) for p in papers]
    vectors = np.load(embeddings)
    started = time.perf_counter()
    model = BERTopic(embedding_model=SentenceTransformer(str(bundled_model_path()), device="cpu"))
    loaded = time.perf_counter()
    topics, _ = model.fit_transform(docs, vectors)
    fitted = time.perf_counter()
    topics = np.asarray(topics)
    return {
        "total_s": fitted - started,
        "timings_s": {"load model": loaded - started, "fit_transform": fitted - loaded},
        "n_papers": len(docs),
        "n_clusters": int(len(set(topics.tolist()) - {-1})),
        "unassigned_share": float((topics == -1).mean()),
        "peak_mb": _peak_mb(),
    }


def _spawn(args: list[str]) -> dict:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, cwd=ROOT
    )
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child failed: {args}\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - started  # includes imports and numba JIT
    return result


def bench_corpus(
    name: str,
    inputs: list[Path],
    baseline: bool,
    workdir: Path,
    *,
    cache_dir: str | None = None,
    config_file: str | None = None,
    warm_only: bool = False,
) -> dict:
    """Cold then warm runs of one corpus (warm only: one run on `cache_dir` as it is). Without
    `cache_dir` the cache is a fresh folder, so the first run is cold."""
    cache = Path(cache_dir) if cache_dir else workdir / f"cache-{name}"
    runs = workdir / f"runs-{name}"
    themes = str(THEMES.get(name, ""))
    common = ["--inputs", *map(str, inputs), "--cache", str(cache), "--runs", str(runs)]
    if themes:
        common += ["--themes", themes]
    if config_file:
        common += ["--config", config_file]
    cold = None
    if not warm_only:
        print(f"[{name}] cold run (cache {cache}) ...", file=sys.stderr, flush=True)
        cold = _spawn(["--child", "ours", *common])
    print(f"[{name}] warm run (cache filled) ...", file=sys.stderr, flush=True)
    warm = _spawn(["--child", "ours", *common])
    cold = cold or warm
    result = {"corpus": name, "inputs": [str(p) for p in inputs], "cold": cold, "warm": warm}
    if baseline:
        print(f"[{name}] BERTopic defaults ...", file=sys.stderr, flush=True)
        result["bertopic_default"] = _spawn(
            [
                "--child",
                "bertopic",
                "--inputs",
                *map(str, inputs),
                "--embeddings",
                str(Path(cold["run_path"]) / "embeddings.npy"),
            ]
        )
    return result


def format_result(result: dict) -> str:
    """A side-by-side table: stage times of cold and warm runs, BERTopic defaults, ratios."""
    cold, warm = result["cold"], result["warm"]
    base = result.get("bertopic_default")
    stages = [k for k in cold["timings_s"] if "." not in k]
    lines = [f"corpus {result['corpus']}: {cold['n_papers']} papers"]
    lines.append(
        f"  {'stage':<22} {'cold (s)':>9} {'warm (s)':>9} {'cold peak MB':>12} {'warm peak MB':>12}"
    )
    for stage in stages:
        lines.append(
            f"  {stage:<22} {cold['timings_s'][stage]:>9.1f} "
            f"{warm['timings_s'].get(stage, 0):>9.1f} "
            f"{cold.get('peak_mb_after', {}).get(stage, 0):>12.0f} "
            f"{warm.get('peak_mb_after', {}).get(stage, 0):>12.0f}"
        )
    for detail in [k for k in cold["timings_s"] if "." in k]:
        lines.append(
            f"    {detail:<20} {cold['timings_s'][detail]:>9.1f} "
            f"{warm['timings_s'].get(detail, 0):>9.1f}"
        )
    lines.append(f"  {'total (stages)':<22} {cold['total_s']:>9.1f} {warm['total_s']:>9.1f}")
    lines.append(f"  {'process wall':<22} {cold['process_s']:>9.1f} {warm['process_s']:>9.1f}")
    lines.append(f"  {'peak memory (MB)':<22} {cold['peak_mb']:>9.0f} {warm['peak_mb']:>9.0f}")
    lines.append(
        f"  {'clusters / unassigned':<22} {cold['n_clusters']:>4} / {cold['unassigned_share']:.1%}"
    )
    if base:
        embed = cold["timings_s"].get("embed", 0.0)
        target = base["total_s"] + embed
        lines += [
            f"  BERTopic defaults on the same embeddings: "
            f"load model {base['timings_s']['load model']:.1f} s, "
            f"fit_transform {base['timings_s']['fit_transform']:.1f} s, "
            f"total {base['total_s']:.1f} s, "
            f"process wall {base['process_s']:.1f} s, peak {base['peak_mb']:.0f} MB, "
            f"{base['n_clusters']} clusters, {base['unassigned_share']:.1%} unassigned",
            f"  ratio cold pipeline / (BERTopic defaults + embedding {embed:.1f} s): "
            f"{cold['total_s']:.1f} / {target:.1f} = {cold['total_s'] / target:.2f}",
            f"  ratio warm pipeline / BERTopic defaults: "
            f"{warm['total_s']:.1f} / {base['total_s']:.1f} = "
            f"{warm['total_s'] / base['total_s']:.2f}",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--corpus",
        action="append",
        metavar="NAME|PATH",
        help="sample, hf (the shared 9.9k corpus), arxiv (the shared 75k corpus) or an input "
        "path; repeatable (default: sample)",
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip BERTopic's defaults")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--config", metavar="FILE", help="pipeline config for our runs")
    parser.add_argument(
        "--cache-dir", metavar="DIR", help="embedding cache to use (default: a fresh folder)"
    )
    parser.add_argument(
        "--warm-only", action="store_true", help="one run on the cache as it is (no cold run)"
    )
    parser.add_argument("--child", choices=("ours", "bertopic"), help=argparse.SUPPRESS)
    parser.add_argument("--inputs", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    parser.add_argument("--runs", help=argparse.SUPPRESS)
    parser.add_argument("--themes", help=argparse.SUPPRESS)
    parser.add_argument("--embeddings", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "ours":
        print(json.dumps(child_ours(args.inputs, args.cache, args.runs, args.themes, args.config)))
        return 0
    if args.child == "bertopic":
        print(json.dumps(child_bertopic(args.inputs, args.embeddings)))
        return 0
    results = []
    with tempfile.TemporaryDirectory(prefix="rte-bench-") as tmp:
        for corpus in args.corpus or ["sample"]:
            inputs = CORPORA.get(corpus) or [Path(corpus)]
            missing = [p for p in inputs if not p.exists()]
            if missing:
                print(f"skipping {corpus}: {missing[0]} not found", file=sys.stderr)
                continue
            result = bench_corpus(
                corpus,
                inputs,
                not args.no_baseline,
                Path(tmp),
                cache_dir=args.cache_dir,
                config_file=args.config,
                warm_only=args.warm_only,
            )
            results.append(result)
            print(format_result(result), flush=True)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
