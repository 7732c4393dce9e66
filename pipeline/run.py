"""Runs the stages in order (ingest -> embed -> cluster -> layout -> themes -> timelines) and hands
their results to `pipeline.contract.write_run`, which publishes an immutable run folder."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import importlib.metadata
import sqlite3
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline import contract
from pipeline.cluster import (
    UNASSIGNED,
    ClusterResult,
    cluster_papers,
    neighbour_graph,
    quiet_bertopic,
    resolve_params,
)
from pipeline.config import PipelineConfig, config_to_dict
from pipeline.embed import (
    BertopicEmbedder,
    Embedder,
    EmbeddingCache,
    embed_papers,
    embedder_from_config,
    encode_cached,
    paper_text,
)
from pipeline.ingest import papers_frame, rejections_frame
from pipeline.layout import layout_papers
from pipeline.records import Paper, Rejection
from pipeline.themes import OTHER, OTHER_DESCRIPTION, OTHER_NAME, Theme, assign_themes
from pipeline.timelines import cluster_timeline, theme_timeline

PACKAGES = (
    "bertopic",
    "umap-learn",
    "hdbscan",
    "scikit-learn",
    "sentence-transformers",
    "torch",
    "numpy",
    "pandas",
    "pyarrow",
)
STAGES = ("embed", "cluster", "layout", "themes", "timelines", "write")


class RunError(Exception):
    """A run that cannot be completed for a reason the user can fix (one line, no traceback)."""


@dataclass(frozen=True)
class RunSummary:
    """What a finished run holds, for the final summary line and for tests."""

    run_id: str
    path: Path
    n_papers: int
    n_rejected: int
    n_warnings: int
    n_clusters: int
    n_unassigned: int
    theme_counts: dict[str, int]
    timings_s: dict[str, float]
    warnings: tuple[str, ...] = ()
    embed_cached: int = 0
    embed_computed: int = 0
    cluster_params: dict[str, Any] = field(default_factory=dict)

    @property
    def unassigned_share(self) -> float:
        return self.n_unassigned / self.n_papers if self.n_papers else 0.0


def new_run_id(now: dt.datetime | None = None) -> str:
    """Sortable and unique: `YYYYMMDD-HHMMSS-<6 hex>` (UTC)."""
    now = now or dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"


def file_digest(path: Path) -> dict[str, Any]:
    """{path, sha256, n_bytes} of one input file (read in 1 MiB chunks)."""
    digest = hashlib.sha256()
    n_bytes = 0
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            n_bytes += len(chunk)
    return {"path": str(path), "sha256": digest.hexdigest(), "n_bytes": n_bytes}


def package_versions() -> dict[str, str]:
    versions = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def check_writable(runs_dir: Path) -> None:
    """Fail before any slow work when the output folder cannot be written."""
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
        probe = runs_dir / f".probe-{uuid.uuid4().hex[:8]}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        raise RunError(f"cannot write to output folder {runs_dir}: {exc.strerror or exc}") from None


def _dates(papers: Sequence[Paper]) -> pd.Series:
    return pd.to_datetime(pd.Series([p.published for p in papers], dtype="object"), errors="coerce")


def _unit(matrix: np.ndarray) -> np.ndarray:
    return matrix / (np.linalg.norm(matrix, axis=1, keepdims=True) + 1e-12)


def clusters_table(
    papers: Sequence[Paper],
    embeddings: np.ndarray,
    clusters: ClusterResult,
    cluster_theme: dict[int, str],
    cluster_share: dict[int, float],
    map_x: np.ndarray,
    map_y: np.ndarray,
    n_representative: int,
) -> pd.DataFrame:
    """One row per cluster id present (including -1 when some paper is unassigned)."""
    dates = _dates(papers)
    ids = clusters.cluster_ids
    unit = _unit(embeddings)
    rows = []
    for cluster in sorted(set(ids.tolist())):
        members = np.flatnonzero(ids == cluster)
        centroid = unit[members].mean(axis=0)
        order = members[np.argsort(-(unit[members] @ centroid), kind="stable")]
        member_dates = dates.iloc[members].dropna()
        rows.append(
            {
                "cluster_id": int(cluster),
                "label": clusters.labels.get(cluster) or f"cluster {cluster}",
                "keywords": list(clusters.keywords.get(cluster, ())),
                "n_papers": int(len(members)),
                "theme_id": cluster_theme.get(cluster, OTHER),
                "theme_share": float(cluster_share.get(cluster, 0.0)),
                "representative_paper_ids": [papers[i].paper_id for i in order[:n_representative]],
                "first_published": member_dates.min().date() if len(member_dates) else None,
                "last_published": member_dates.max().date() if len(member_dates) else None,
                "map_x": float(np.median(map_x[members])),
                "map_y": float(np.median(map_y[members])),
            }
        )
    return pd.DataFrame(rows)


def themes_table(
    themes: Sequence[Theme],
    theme_ids: np.ndarray,
    cluster_theme: dict[int, str],
    is_generated: bool,
) -> pd.DataFrame:
    """Every theme plus "other", with paper counts and the number of clusters it dominates."""
    paper_counts = pd.Series(theme_ids).value_counts()
    cluster_counts = pd.Series(
        [t for c, t in cluster_theme.items() if c != UNASSIGNED], dtype=object
    ).value_counts()
    rows = [
        {
            "theme_id": theme.theme_id,
            "name": theme.name,
            "description": theme.description,
            "key_terms": list(theme.key_terms),
            "is_generated": is_generated,
        }
        for theme in themes
    ]
    rows.append(
        {
            "theme_id": OTHER,
            "name": OTHER_NAME,
            "description": OTHER_DESCRIPTION,
            "key_terms": [],
            "is_generated": False,
        }
    )
    frame = pd.DataFrame(rows)
    frame["n_papers"] = frame["theme_id"].map(paper_counts).fillna(0).astype(np.int64)
    frame["n_clusters"] = frame["theme_id"].map(cluster_counts).fillna(0).astype(np.int64)
    return frame


class _Progress:
    """A tqdm bar over the stages (and one over the papers while embedding); silent when off."""

    def __init__(self, enabled: bool, n_papers: int):
        self.enabled = enabled
        self.n_papers = n_papers
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=len(STAGES), desc="pipeline", unit="stage", file=sys.stderr)

    def stage(self, name: str) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(name)

    def done(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def papers_bar(self):
        if not self.enabled:
            return None
        from tqdm.auto import tqdm

        return tqdm(
            total=self.n_papers, desc="embedding", unit="paper", leave=False, file=sys.stderr
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def build_run(
    papers: Sequence[Paper],
    rejections: Sequence[Rejection],
    config: PipelineConfig,
    runs_dir: str | Path,
    *,
    themes: Sequence[Theme] | None = None,
    themes_file: str | Path | None = None,
    input_files: Sequence[Path] = (),
    embedder: Embedder | None = None,
    progress: bool = False,
    run_id: str | None = None,
    extra_timings: dict[str, float] | None = None,
) -> RunSummary:
    """Embed, cluster, lay out, theme and time-line `papers`, then publish the run atomically.

    `embedder` defaults to the configured model; tests pass a fake one. The seed comes from
    `config.seed`. Returns a summary of the published run.
    """
    if not papers:
        raise RunError("no papers to process")
    runs_dir = Path(runs_dir)
    check_writable(runs_dir)
    seed = config.seed
    embedder = embedder or embedder_from_config(config.embed)
    timings: dict[str, float] = dict(extra_timings or {})
    bars = _Progress(progress, len(papers))
    cache_dir = config.embed.cache_dir if config.embed.use_cache else None
    try:
        bars.stage("embed")
        papers_bar = bars.papers_bar()
        try:
            embedded = embed_papers(
                papers, embedder, config.embed, progress=papers_bar.update if papers_bar else None
            )
        except sqlite3.Error as exc:
            raise RunError(f"embedding cache in {config.embed.cache_dir} failed: {exc}") from None
        finally:
            if papers_bar is not None:
                papers_bar.close()
        embeddings = embedded.embeddings
        timings["embed"] = embedded.seconds
        bars.done()

        def encode(texts: list[str]) -> np.ndarray:
            cache = EmbeddingCache(cache_dir) if cache_dir else None
            try:
                return encode_cached(texts, embedder, cache, config.embed.batch_size)[0]
            finally:
                if cache is not None:
                    cache.close()

        bars.stage("cluster")
        started = time.perf_counter()
        docs = [paper_text(p) for p in papers]
        # One neighbour graph for both UMAPs when they ask for the same width (large corpora).
        knn = None
        if len(papers) >= 3:
            width = resolve_params(len(papers), config.cluster)["n_neighbors"]
            knn = neighbour_graph(embeddings, width, seed)
        timings["neighbours"] = time.perf_counter() - started
        started = time.perf_counter()
        clusters = cluster_papers(
            docs,
            embeddings,
            config.cluster,
            seed,
            BertopicEmbedder(embedder, cache_dir, config.embed.batch_size),
            knn=knn,
        )
        timings["cluster"] = time.perf_counter() - started
        bars.done()

        bars.stage("layout")
        layout = layout_papers(embeddings, config.layout, seed, knn=knn)
        timings["layout"] = layout.seconds
        bars.done()

        bars.stage("themes")
        theme_result = assign_themes(
            embeddings,
            clusters.cluster_ids,
            themes,
            encode,
            config.themes,
            hierarchy=clusters.hierarchy,
            labels=clusters.labels,
            keywords=clusters.keywords,
            titles=[p.title for p in papers],
            abstracts=[p.abstract for p in papers],
        )
        timings["themes"] = theme_result.seconds
        bars.done()

        bars.stage("timelines")
        started = time.perf_counter()
        published = [p.published for p in papers]
        tables = {
            "papers": papers_frame(papers),
            "assignments": pd.DataFrame(
                {
                    "paper_id": [p.paper_id for p in papers],
                    "cluster_id": clusters.cluster_ids.astype(np.int64),
                    "initial_cluster_id": clusters.initial_cluster_ids.astype(np.int64),
                    "is_reassigned": (clusters.initial_cluster_ids == UNASSIGNED)
                    & (clusters.cluster_ids != UNASSIGNED),
                    "cluster_probability": clusters.probabilities,
                    "theme_id": theme_result.theme_ids.astype(str),
                    "theme_score": theme_result.scores,
                    "map_x": layout.map_x,
                    "map_y": layout.map_y,
                }
            ),
            "clusters": clusters_table(
                papers,
                embeddings,
                clusters,
                theme_result.cluster_theme,
                theme_result.cluster_share,
                layout.map_x,
                layout.map_y,
                config.cluster.n_representative,
            ),
            "cluster_themes": theme_result.cluster_themes,
            "themes": themes_table(
                theme_result.themes,
                theme_result.theme_ids,
                theme_result.cluster_theme,
                theme_result.is_generated,
            ),
            "theme_timeline": theme_timeline(published, theme_result.theme_ids),
            "cluster_timeline": cluster_timeline(published, clusters.cluster_ids),
            "hierarchy": clusters.hierarchy,
            "rejections": rejections_frame(rejections),
        }
        for frame in (tables["theme_timeline"], tables["cluster_timeline"]):
            frame["period_start"] = pd.to_datetime(frame["period_start"]).dt.date
        timings["timelines"] = time.perf_counter() - started
        bars.done()

        bars.stage("write")
        started = time.perf_counter()
        n_rejected = sum(r.severity == "rejected" for r in rejections)
        n_warnings = sum(r.severity == "warning" for r in rejections)
        theme_counts = {
            str(k): int(v) for k, v in pd.Series(theme_result.theme_ids).value_counts().items()
        }
        run_id = run_id or new_run_id()
        manifest = {
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "inputs": [file_digest(Path(p)) for p in input_files],
            "config": config_to_dict(config),
            "seed": seed,
            "embedding_model": embedded.model_id,
            "counts": {
                "n_papers": len(papers),
                "n_rejected": int(n_rejected),
                "n_warnings": int(n_warnings),
                "n_clusters": clusters.n_clusters,
                "n_unassigned": clusters.n_unassigned,
                "n_themes": len(theme_result.themes),
            },
            "timings_s": {},
            "packages": package_versions(),
            "themes_file": file_digest(Path(themes_file)) if themes_file else None,
            "theme_method": theme_result.method,
            "cluster_params": clusters.params,
            "embedding_cache": {"n_cached": embedded.n_cached, "n_embedded": embedded.n_embedded},
            "warnings": list(clusters.warnings),
        }
        timings.update({f"cluster.{k}": v for k, v in clusters.timings_s.items()})
        manifest["timings_s"] = {k: round(v, 3) for k, v in timings.items()}
        model_path = getattr(embedder, "model_path", None)

        def write_model(folder: Path) -> None:
            with quiet_bertopic():
                clusters.model.save(
                    str(folder),
                    serialization="safetensors",
                    save_ctfidf=True,
                    save_embedding_model=str(model_path) if model_path else False,
                )

        try:
            path = contract.write_run(
                runs_dir, run_id, tables, embeddings, manifest, write_model=write_model
            )
        except OSError as exc:
            raise RunError(f"cannot write run to {runs_dir}: {exc.strerror or exc}") from None
        timings["write"] = time.perf_counter() - started
        bars.done()
    finally:
        bars.close()
    return RunSummary(
        run_id=run_id,
        path=path,
        n_papers=len(papers),
        n_rejected=int(n_rejected),
        n_warnings=int(n_warnings),
        n_clusters=clusters.n_clusters,
        n_unassigned=clusters.n_unassigned,
        theme_counts=theme_counts,
        timings_s=timings,
        warnings=tuple(clusters.warnings),
        embed_cached=embedded.n_cached,
        embed_computed=embedded.n_embedded,
        cluster_params=clusters.params,
    )


def run_pipeline(
    inputs: Sequence[str | Path],
    config: PipelineConfig,
    runs_dir: str | Path,
    *,
    themes_file: str | Path | None = None,
    embedder: Embedder | None = None,
    progress: bool = False,
) -> RunSummary:
    """Ingest `inputs` (files or folders), then `build_run`. Raises RunError, ThemesFileError or
    the ingest package's IngestError for user errors."""
    from pipeline.ingest import ingest
    from pipeline.themes import load_themes

    themes = load_themes(themes_file) if themes_file else None
    check_writable(Path(runs_dir))
    started = time.perf_counter()
    result = ingest([Path(p) for p in inputs], config.ingest)
    ingest_seconds = time.perf_counter() - started
    return build_run(
        result.papers,
        result.rejections,
        config,
        runs_dir,
        themes=themes,
        themes_file=themes_file,
        input_files=result.input_files,
        embedder=embedder,
        progress=progress,
        extra_timings={"ingest": ingest_seconds},
    )


def with_seed(config: PipelineConfig, seed: int | None) -> PipelineConfig:
    """The config with `seed` replaced when given."""
    return config if seed is None else dataclasses.replace(config, seed=seed)


def format_summary(summary: RunSummary) -> str:
    """The final summary printed after a run: counts, unassigned share, themes, stage times."""
    lines = [
        f"run {summary.run_id} written to {summary.path}",
        f"  papers      {summary.n_papers} ({summary.n_rejected} rejected, "
        f"{summary.n_warnings} warnings; embedded {summary.embed_computed}, "
        f"from cache {summary.embed_cached})",
        f"  clusters    {summary.n_clusters}; unassigned {summary.n_unassigned} "
        f"({summary.unassigned_share:.1%})",
        "  themes      "
        + ", ".join(f"{name} {count}" for name, count in summary.theme_counts.items()),
        "  time (s)    "
        + ", ".join(
            f"{stage} {seconds:.1f}"
            for stage, seconds in summary.timings_s.items()
            if "." not in stage
        )
        + f"; total {sum(v for k, v in summary.timings_s.items() if '.' not in k):.1f}",
    ]
    lines += [f"  warning     {w}" for w in summary.warnings]
    return "\n".join(lines)


def format_runs(runs_dir: str | Path) -> str:
    """A table of the runs in `runs_dir`, newest first; `*` marks the `latest` pointer."""
    runs = contract.list_runs(runs_dir)
    if not runs:
        return f"no runs in {runs_dir}"
    latest = contract.latest_run_id(runs_dir)
    header = (
        f"  {'run_id':<24} {'created (UTC)':<20} {'papers':>6} {'clusters':>8} "
        f"{'unassigned':>10} {'themes':>6}  inputs"
    )
    lines = [header]
    for manifest in runs:
        counts = manifest.get("counts", {})
        inputs = ", ".join(Path(i.get("path", "?")).name for i in manifest.get("inputs", []))
        mark = "*" if manifest.get("run_id") == latest else " "
        note = "" if manifest.get("compatible") else "  (other schema version)"
        lines.append(
            f"{mark} {manifest.get('run_id', '?'):<24} "
            f"{str(manifest.get('created_at', ''))[:19]:<20} "
            f"{counts.get('n_papers', '?'):>6} {counts.get('n_clusters', '?'):>8} "
            f"{counts.get('n_unassigned', '?'):>10} {counts.get('n_themes', '?'):>6}  "
            f"{inputs}{note}"
        )
    return "\n".join(lines)
