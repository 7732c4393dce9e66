"""Command line for the pipeline: parse arguments, call a stage, print; no logic lives here.

Subcommands: ingest, run, add, runs, bench. A user error prints one line and exits 2; it never shows
a traceback.
"""

from __future__ import annotations

import os

# Set before anything can import huggingface_hub / transformers: a mistake fails at once.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import argparse  # noqa: E402
import sys  # noqa: E402


class UserError(Exception):
    """An error caused by the user's input or environment; shown as one line, no traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline",
        description="Research Theme Explorer pipeline: ingest listings, cluster, publish runs.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in SUBCOMMANDS:
        register(sub)
    return parser


# Each entry adds one subparser and sets `func` (args -> exit code) on it.
SUBCOMMANDS: list = []


def register_ingest(sub) -> None:
    from pipeline.ingest.schema import FORMAT_CHOICES

    p = sub.add_parser(
        "ingest",
        help="read paper listings, print a per-file summary, write papers + rejections",
        description="Read, normalise and deduplicate paper listings; write papers.parquet, "
        "rejections.parquet and merges.parquet.",
    )
    p.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="files or folders (walked recursively)"
    )
    p.add_argument("--format", choices=FORMAT_CHOICES, help="force one reader for every input")
    p.add_argument(
        "--column",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help="table column for a field, e.g. abstract=summary_text (repeatable)",
    )
    p.add_argument("--config", metavar="FILE", help="TOML config file ([ingest] section)")
    p.add_argument("--limit", type=int, metavar="N", help="read at most N records per file")
    p.add_argument("--out", default="data/ingest", metavar="DIR", help="output folder")
    p.set_defaults(func=_run_ingest)


def _run_ingest(args) -> int:
    import dataclasses

    from pipeline.config import ConfigError, load_config
    from pipeline.ingest import IngestError, check_out_dir, ingest, summary_table, write_outputs

    columns = {}
    for item in args.column:
        field_, sep, column = item.partition("=")
        if not sep or not field_.strip() or not column.strip():
            raise UserError(f"--column expects FIELD=COLUMN, got {item!r}")
        columns[field_.strip()] = column.strip()
    try:
        config = load_config(args.config).ingest
        overrides = {"columns": {**config.columns, **columns}}
        if args.format:
            overrides["format"] = args.format
        if args.limit is not None:
            overrides["limit"] = args.limit
        config = dataclasses.replace(config, **overrides)
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    try:
        check_out_dir(args.out)  # before reading: a long ingest must not fail at the end
        result = ingest(args.inputs, config)
    except IngestError as exc:
        if exc.result is None:
            raise UserError(str(exc)) from None
        _print(summary_table(exc.result))
        try:  # the rejections say why nothing was kept; stale papers must not look like news
            written = write_outputs(exc.result, args.out)
        except IngestError as write_error:
            raise UserError(f"{exc}; {write_error}") from None
        raise UserError(f"{exc}; rejections -> {written['rejections']}") from None
    _print(summary_table(result))
    try:
        written = write_outputs(result, args.out)
    except IngestError as exc:
        raise UserError(str(exc)) from None
    n_warn = sum(1 for r in result.rejections if r.severity == "warning")
    n_rej = len(result.rejections) - n_warn
    _print(
        f"{len(result.papers)} papers -> {written['papers']}\n"
        f"{n_rej} rejected, {n_warn} warnings -> {written['rejections']}\n"
        f"{len(result.merges)} duplicates merged -> {written['merges']}"
    )
    return 0


def _print(text: str) -> None:
    """Print to stdout; when the reader has gone (`... | head`), carry on quietly: the output
    files are still written, and no BrokenPipeError traceback is shown at exit."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # later prints and the exit flush go nowhere


SUBCOMMANDS.append(register_ingest)


def register_run(sub) -> None:
    from pipeline.config import ENGINES

    p = sub.add_parser(
        "run",
        help="ingest, embed, cluster, map and theme papers; publish a run folder",
        description="Turn paper listings into a run folder (see README, section pipeline): "
        "embeddings, clusters with labels, 2-D map, themes, timelines, hierarchy.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="files or folders (recursive)")
    p.add_argument("--themes", metavar="FILE", help="themes TOML file (default: generated themes)")
    p.add_argument("--config", metavar="FILE", help="TOML config file (see README for every key)")
    p.add_argument("--out", default="data/runs", metavar="DIR", help="runs folder")
    p.add_argument("--seed", type=int, metavar="N", help="random seed (overrides the config's)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument(
        "--progress-file",
        metavar="PATH",
        help="also write progress as JSON lines to PATH (stage, papers embedded, time left)",
    )
    p.add_argument(
        "--embedder",
        metavar="MODULE:FACTORY",
        help="embed with this Python factory instead of the configured model (tests: "
        "tests.fake_embedder:FakeEmbedder)",
    )
    p.add_argument(
        "--engine",
        choices=ENGINES,
        help="where embedding and sample assignment run: in-process (default) or ray",
    )
    p.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="with --engine ray: join this cluster (auto, HOST:PORT or ray://HOST:PORT) instead "
        "of starting Ray here",
    )
    p.set_defaults(func=_run_run)


def _stored_answers(runs_dir: str) -> tuple:
    """The theme answers in the runs folder's review store (none when there is no store); a
    store that cannot be read is one printed line, and the run goes on without answers."""
    from pipeline.review import ReviewError, ReviewStore, default_store_path, theme_answers

    store_path = default_store_path(runs_dir)
    try:
        if store_path.is_file():
            return tuple(theme_answers(ReviewStore.open(store_path)).labels)
    except ReviewError as exc:
        print(f"theme answers not used: {exc}")
    return ()


def _run_run(args) -> int:
    from pipeline import contract
    from pipeline.config import ConfigError, load_config
    from pipeline.embed import embedder_from_spec
    from pipeline.ingest import IngestError
    from pipeline.review import (
        carry_over_runs,
    )
    from pipeline.run import RunError, run_pipeline, with_engine, with_seed
    from pipeline.themes import ThemesFileError

    previous = contract.latest_run_id(args.out)  # its review carries over to the new run
    answers = _stored_answers(args.out)
    try:
        if args.embedder:
            embedder_from_spec(args.embedder)  # a bad spec fails here, before any work
    except ValueError as exc:
        raise UserError(str(exc)) from None
    embedder = args.embedder or None  # a spec: the Ray engine builds one in each worker
    try:
        config = with_seed(load_config(args.config), args.seed)
        config = with_engine(config, args.engine, args.ray_address)
        summary = run_pipeline(
            args.inputs,
            config,
            args.out,
            themes_file=args.themes,
            embedder=embedder,
            progress=not args.no_progress,
            answers=answers,
            progress_file=args.progress_file,
        )
    except (ConfigError, ThemesFileError, RunError, IngestError) as exc:
        raise UserError(str(exc)) from None
    print(format_summary(summary))
    if previous:
        print(carry_over_runs(args.out, previous, summary.run_id).to_text())
    return 0


def register_add(sub) -> None:
    p = sub.add_parser(
        "add",
        help="add new papers to an existing run as a new run (no re-clustering)",
        description="Add the papers of INPUT to a run (default: the latest) as a new run: only "
        "the new papers are embedded, assigned to the run's clusters with its saved models, "
        "placed on its map and themed; every review decision is kept (see README, add).",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="files or folders (recursive)")
    p.add_argument("--to", metavar="RUN", help="run id to add to (default: the latest)")
    p.add_argument("--config", metavar="FILE", help="TOML config ([ingest], [embed], [add])")
    p.add_argument("--out", default="data/runs", metavar="DIR", help="runs folder")
    p.add_argument(
        "--embedder",
        metavar="MODULE:FACTORY",
        help="embed with this Python factory (it must be the run's embedding model)",
    )
    p.set_defaults(func=_run_add)


def _run_add(args) -> int:
    from pipeline.add import AddError, NothingToAdd, add_papers
    from pipeline.config import ConfigError, load_config
    from pipeline.embed import embedder_from_spec
    from pipeline.ingest import IngestError
    from pipeline.review import (
        inherit_review_runs,
    )

    answers = _stored_answers(args.out)
    try:
        embedder = embedder_from_spec(args.embedder) if args.embedder else None
        summary = add_papers(
            args.inputs,
            args.out,
            load_config(args.config),
            to=args.to,
            embedder=embedder,
            answers=answers,
        )
    except NothingToAdd as exc:
        print(exc)
        return 0
    except (ValueError, ConfigError, AddError, IngestError) as exc:
        raise UserError(str(exc)) from None
    print(format_add_summary(summary))
    print(inherit_review_runs(args.out, summary.parent_run_id, summary.run_id).to_text())
    return 0


def format_add_summary(summary) -> str:
    """The summary printed after `add`: papers added and already there, unassigned share (with
    the re-run advice when it passes the threshold), stage times."""
    stages = ", ".join(f"{k} {v:.1f}" for k, v in summary.timings_s.items() if "." not in k)
    advice = (
        f" > {summary.rerun_share:.0%}: the clusters no longer fit the new papers; "
        "a full re-run (`python -m pipeline run`) is recommended"
        if summary.is_rerun_recommended
        else ""
    )
    return "\n".join(
        [
            f"run {summary.run_id} written to {summary.path} (added to {summary.parent_run_id})",
            f"  papers      {summary.n_papers}: {summary.n_added} added, "
            f"{summary.n_already_in_run} already in the run ({summary.n_rejected} rejected, "
            f"{summary.n_warnings} warnings; embedded {summary.embed_computed}, from cache "
            f"{summary.embed_cached})",
            f"  unassigned  {summary.n_unassigned_added} of the added papers "
            f"({summary.unassigned_share:.1%}){advice}",
            f"  time (s)    {stages}; total {sum(summary.timings_s.values()):.1f}",
        ]
    )


def register_runs(sub) -> None:
    p = sub.add_parser(
        "runs",
        help="list runs (newest first, * = latest)",
        description="List the complete runs in a runs folder, newest first.",
    )
    p.add_argument("--out", default="data/runs", metavar="DIR", help="runs folder")
    p.set_defaults(func=lambda args: print(format_runs(args.out)))


def format_summary(summary) -> str:
    """The final summary printed after a run: counts, unassigned share, themes, stage times."""
    stages = {k: v for k, v in summary.timings_s.items() if "." not in k}
    lines = [
        f"run {summary.run_id} written to {summary.path}",
        f"  papers      {summary.n_papers} ({summary.n_rejected} rejected, "
        f"{summary.n_warnings} warnings; embedded {summary.embed_computed}, "
        f"from cache {summary.embed_cached})",
        f"  clusters    {summary.n_clusters}; unassigned {summary.n_unassigned} "
        f"({summary.unassigned_share:.1%})",
        "  themes      "
        + ", ".join(f"{name} {count}" for name, count in summary.theme_counts.items()),
        f"  theme labels used: {summary.theme_labels.get('answers', 0)} answers, "
        f"{summary.theme_labels.get('examples', 0)} examples",
        "  time (s)    "
        + ", ".join(f"{stage} {seconds:.1f}" for stage, seconds in stages.items())
        + f"; total {sum(stages.values()):.1f}",
    ]
    lines += [f"  warning     {w}" for w in summary.warnings]
    return "\n".join(lines)


def format_runs(runs_dir: str) -> str:
    """A table of the runs in `runs_dir`, newest first; `*` marks the `latest` pointer; runs
    that cannot be opened are listed last with the reason."""
    from pathlib import Path

    from pipeline import contract

    runs = contract.list_runs(runs_dir)
    if not runs:
        return f"no runs in {runs_dir}"
    latest = contract.latest_run_id(runs_dir)
    lines = [
        f"  {'run_id':<24} {'created (UTC)':<20} {'papers':>6} {'clusters':>8} "
        f"{'unassigned':>10} {'themes':>6}  inputs"
    ]
    for entry in runs:
        mark = "*" if entry.run_id == latest else " "
        m = entry.manifest
        if m is None:
            lines.append(f"{mark} {entry.run_id:<24} cannot be opened: {entry.problem}")
            continue
        inputs = ", ".join(Path(i.path).name for i in m.inputs)
        c = m.counts
        lines.append(
            f"{mark} {entry.run_id:<24} {m.created_at[:19]:<20} {c.n_papers:>6} "
            f"{c.n_clusters:>8} {c.n_unassigned:>10} {c.n_themes:>6}  {inputs}"
        )
    return "\n".join(lines)


def register_bench(sub) -> None:
    p = sub.add_parser(
        "bench",
        help="time each stage next to BERTopic's defaults; compare embedding settings",
        description="Time each pipeline stage, cold and warm, next to BERTopic's "
        "defaults on the same embeddings (bench/bench_pipeline.py); with --embed-settings, "
        "compare embedding settings' speed and quality instead (bench/bench_embed.py); with "
        "--add, time adding papers to a run against a full re-run (bench/bench_add.py).",
    )
    p.add_argument(
        "--corpus",
        action="append",
        metavar="NAME|PATH",
        help="sample, hf (the shared 9.9k corpus), arxiv (the shared 75k corpus) or an input "
        "path; repeatable",
    )
    p.add_argument("--no-baseline", action="store_true", help="skip BERTopic's defaults")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    p.add_argument("--config", metavar="FILE", help="pipeline config for the measured runs")
    p.add_argument("--cache-dir", metavar="DIR", help="embedding cache (default: a fresh folder)")
    p.add_argument("--warm-only", action="store_true", help="no cold run: the cache as it is")
    p.add_argument(
        "--embed-settings",
        metavar="LIST",
        help="compare MODEL-TOKENS settings, e.g. bundled-256,bundled-128,fast-256: cold speed, "
        "NMI against arXiv categories, seed stability, theme F1",
    )
    p.add_argument("--cache-root", metavar="DIR", help="with --embed-settings: caches per setting")
    p.add_argument("--no-themes", action="store_true", help="with --embed-settings: no theme F1")
    p.add_argument(
        "--add",
        action="store_true",
        help="time `add` of held-out papers against a full warm re-run (bench/bench_add.py; "
        "default corpus hf, cache data/cache)",
    )
    p.add_argument("--hold-out", type=int, metavar="N", help="with --add: papers held out (200)")
    p.set_defaults(func=_run_bench)


def _run_bench(args) -> int:
    import runpy
    from pathlib import Path

    bench = Path(__file__).resolve().parents[1] / "bench"
    if args.add:
        script = bench / "bench_add.py"
        bench_args = ["--corpus", args.corpus[0]] if args.corpus else []
        bench_args += ["--hold-out", str(args.hold_out)] if args.hold_out else []
        bench_args += ["--cache-dir", args.cache_dir] if args.cache_dir else []
        bench_args += ["--config", args.config] if args.config else []
    elif args.embed_settings:
        script = bench / "bench_embed.py"
        bench_args = ["--settings", args.embed_settings]
        bench_args += ["--cache-root", args.cache_root] if args.cache_root else []
        bench_args += ["--no-themes"] if args.no_themes else []
    else:
        script = bench / "bench_pipeline.py"
        bench_args = [arg for corpus in args.corpus or [] for arg in ("--corpus", corpus)]
        bench_args += ["--no-baseline"] if args.no_baseline else []
        bench_args += ["--config", args.config] if args.config else []
        bench_args += ["--cache-dir", args.cache_dir] if args.cache_dir else []
        bench_args += ["--warm-only"] if args.warm_only else []
    bench_args += ["--json", args.json] if args.json else []
    if not script.is_file():
        raise UserError(f"benchmark script not found: {script}")
    return runpy.run_path(str(script))["main"](bench_args)


SUBCOMMANDS += [register_run, register_add, register_runs, register_bench]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
