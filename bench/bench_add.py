"""Add-vs-rerun benchmark: reads a corpus (default: the shared 9.9k HF daily-papers corpus), holds
out a seeded sample of papers, builds a run on the rest, then times `pipeline add` of the held-out
papers against a full re-run of all papers, both warm (embedding cache filled); prints the two
side by side with the ratio, and what `add` did (papers added, unassigned share).

Each step is its own `python -m pipeline` process; its wall time includes imports and numba JIT.
Usage: .venv/bin/python bench/bench_add.py [--corpus hf|sample|PATH] [--hold-out 200]
         [--cache-dir DIR] [--config FILE] [--json FILE]
       (also: python -m pipeline bench --add ...)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_pipeline import CORPORA  # noqa: E402


def split_corpus(inputs: list[Path], n_hold: int, seed: int, workdir: Path) -> dict[str, Path]:
    """Write the corpus' table rows as three parquet files: `all`, `rest` and `held` (a seeded
    sample of `n_hold` rows), so each side reads the same records with the same reader."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.concat_tables([pq.read_table(p) for p in inputs], promote_options="default")
    held = np.sort(np.random.default_rng(seed).choice(table.num_rows, n_hold, replace=False))
    rest = np.setdiff1d(np.arange(table.num_rows), held)
    files = {}
    for name, rows in (("all", np.arange(table.num_rows)), ("rest", rest), ("held", held)):
        files[name] = workdir / f"{name}.parquet"
        pq.write_table(table.take(pa.array(rows)), files[name])
    return files


def pipeline(*args: str) -> dict:
    """One `python -m pipeline` command: its wall time and output (raises on failure)."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", *args], capture_output=True, text=True, cwd=ROOT
    )
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"failed: pipeline {' '.join(args)}\n{proc.stderr[-3000:]}")
    return {"wall_s": round(seconds, 1), "stdout": proc.stdout}


def _stages(runs: Path) -> dict:
    """The latest run's manifest: per-stage seconds, counts and (for an add) what it added."""
    from pipeline import contract

    manifest = contract.read_run(runs).manifest
    addition = manifest.addition
    return {
        "run_id": manifest.run_id,
        "stages_s": {k: v for k, v in manifest.timings_s.items() if "." not in k},
        "n_papers": manifest.counts.n_papers,
        "n_clusters": manifest.counts.n_clusters,
        "embedding_cache": manifest.embedding_cache,
        "addition": None if addition is None else addition.__dict__,
    }


def bench_add(
    inputs: list[Path], n_hold: int, cache: Path, config: str | None, workdir: Path
) -> dict:
    files = split_corpus(inputs, n_hold, 0, workdir)
    cfg = workdir / "config.toml"
    base = Path(config).read_text(encoding="utf-8") if config else ""
    if "[embed]" in base:
        raise SystemExit("give the cache with --cache-dir, not in the config's [embed]")
    cfg.write_text(f'{base}\n[embed]\ncache_dir = "{cache}"\n', encoding="utf-8")
    common = ["--config", str(cfg)]
    runs, rerun_runs = workdir / "runs", workdir / "rerun"
    print(f"building the run on {files['rest'].name} (warm cache {cache}) ...", file=sys.stderr)
    build = pipeline("run", str(files["rest"]), "--out", str(runs), "--no-progress", *common)
    build |= _stages(runs)
    print(f"adding {n_hold} papers ...", file=sys.stderr)
    added = pipeline("add", str(files["held"]), "--out", str(runs), *common) | _stages(runs)
    print("full warm re-run of all papers ...", file=sys.stderr)
    rerun = pipeline("run", str(files["all"]), "--out", str(rerun_runs), "--no-progress", *common)
    rerun |= _stages(rerun_runs)
    return {"n_hold": n_hold, "build": build, "add": added, "rerun": rerun}


def format_result(result: dict) -> str:
    add, rerun = result["add"], result["rerun"]
    a = add["addition"]
    lines = [
        f"add {a['n_added']} papers ({a['n_already_in_run']} already in the run) to a run of "
        f"{result['build']['n_papers']}, against a full warm re-run of {rerun['n_papers']}",
        f"  {'':<22}{'add':>10}{'re-run':>10}{'ratio':>8}",
        f"  {'process wall (s)':<22}{add['wall_s']:>10.1f}{rerun['wall_s']:>10.1f}"
        f"{rerun['wall_s'] / max(add['wall_s'], 1e-9):>7.1f}x",
    ]
    for name in sorted(set(add["stages_s"]) | set(rerun["stages_s"])):
        x, y = add["stages_s"].get(name), rerun["stages_s"].get(name)
        fmt = lambda v: f"{v:>10.1f}" if v is not None else f"{'-':>10}"  # noqa: E731
        lines.append(f"  {name:<22}{fmt(x)}{fmt(y)}")
    lines.append(
        f"  added papers unassigned: {a['n_unassigned']} ({a['unassigned_share']:.1%}); "
        f"re-run recommended: {a['is_rerun_recommended']}; embedded {add['embedding_cache']}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="hf", metavar="NAME|PATH", help="default: hf")
    parser.add_argument("--hold-out", type=int, default=200, metavar="N")
    parser.add_argument("--cache-dir", metavar="DIR", help="embedding cache (default: data/cache)")
    parser.add_argument("--config", metavar="FILE", help="pipeline config (no [embed] section)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    inputs = CORPORA.get(args.corpus) or [Path(args.corpus)]
    missing = [p for p in inputs if not p.exists()]
    if missing:
        print(f"skipping {args.corpus}: {missing[0]} not found", file=sys.stderr)
        return 0
    if any(p.suffix != ".parquet" for p in inputs):
        print(f"skipping {args.corpus}: the add bench splits parquet tables only", file=sys.stderr)
        return 0
    cache = Path(args.cache_dir or ROOT / "data/cache").resolve()
    with tempfile.TemporaryDirectory(prefix="rte-bench-add-") as tmp:
        result = bench_add(inputs, args.hold_out, cache, args.config, Path(tmp))
    result["corpus"] = args.corpus
    print(format_result(result), flush=True)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
