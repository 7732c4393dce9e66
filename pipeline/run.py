"""Runs the stages in order (embed -> neighbours -> cluster -> layout -> themes -> derive) and
hands their results to `pipeline.contract.write_run`, which publishes an immutable run folder."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import importlib.metadata
import sqlite3
import sys
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline import contract, derive
from pipeline.assign import (
    FittedRun,
    cluster_on_sample,
    fit_rows,
    fitted_clusters,
    layout_on_sample,
    save_fitted,
)
from pipeline.cluster import cluster_papers, fit_sample_size, quiet_bertopic
from pipeline.config import PipelineConfig, config_to_dict
from pipeline.contract import UNASSIGNED
from pipeline.embed import (
    BertopicEmbedder,
    Embedder,
    EmbedderSpec,
    EmbeddingCache,
    embed_papers,
    embedder_of,
    encode_cached,
    paper_text,
)
from pipeline.engine import Engine, EngineError, open_engine
from pipeline.ingest import papers_frame, rejections_frame
from pipeline.layout import layout_papers
from pipeline.neighbours import neighbour_graph, neighbour_width
from pipeline.progress import STAGES, ProgressFile
from pipeline.records import Paper, Rejection
from pipeline.themes import Theme, ThemeLabel, ThemeResult, assign_themes
from pipeline.timing import Timings

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
    theme_labels: dict[str, int] = field(default_factory=dict)
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


def file_digest(path: Path) -> contract.InputFile:
    """Path, sha256 and size of one input file (read in 1 MiB chunks)."""
    digest = hashlib.sha256()
    n_bytes = 0
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            n_bytes += len(chunk)
    return contract.InputFile(path=str(path), sha256=digest.hexdigest(), n_bytes=n_bytes)


def package_versions() -> dict[str, str]:
    versions = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def check_writable(runs_dir: Path) -> None:
    """Fail before any slow work when the output folder cannot be written (RunError)."""
    from pipeline.ingest import IngestError, check_out_dir

    try:
        check_out_dir(runs_dir)
    except IngestError as exc:
        raise RunError(str(exc)) from None


class _Stages:
    """Times each stage (one `Timings`) and shows a tqdm bar over the stages, plus one over the
    papers while embedding (silent when progress is off); tells `tracker` (a ProgressFile)."""

    def __init__(
        self, enabled: bool, n_papers: int, timings: Timings, tracker: ProgressFile | None = None
    ):
        self.enabled = enabled
        self.n_papers = n_papers
        self.timings = timings
        self.tracker = tracker
        if tracker is not None:
            tracker.n_papers = n_papers
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=len(STAGES), desc="pipeline", unit="stage", file=sys.stderr)

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        if self.bar is not None:
            self.bar.set_postfix_str(name)
        if self.tracker is not None:
            self.tracker.begin(name)
        with self.timings.step(name):
            yield
        if self.bar is not None:
            self.bar.update(1)

    @contextlib.contextmanager
    def papers_bar(self) -> Iterator[Any]:
        """A callback counting embedded papers (None when no bar and no tracker)."""
        counters = [self.tracker.embedded] if self.tracker is not None else []
        bar = None
        if self.enabled:
            from tqdm.auto import tqdm

            bar = tqdm(
                total=self.n_papers, desc="embedding", unit="paper", leave=False, file=sys.stderr
            )
            counters.append(bar.update)

        def count(n: int) -> None:
            for counter in counters:
                counter(n)

        try:
            yield count if counters else None
        finally:
            if bar is not None:
                bar.close()

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
    embedder: Embedder | str | None = None,
    progress: bool = False,
    run_id: str | None = None,
    timings: Timings | None = None,
    answers: Sequence[ThemeLabel] = (),
    tracker: ProgressFile | None = None,
) -> RunSummary:
    """Embed, cluster, lay out and theme `papers`, derive the tables, then publish the run
    atomically.

    `embedder` defaults to the configured model; tests pass a fake one, or its `module:factory`
    spec (the Ray engine needs a spec or the config: each actor builds its own). `config.engine`
    says where embedding and the assignment to a fitted sample run. The seed comes from
    `config.seed`. `timings` may already hold earlier steps (ingest). `answers` are reviewers'
    theme answers (by paper id, from the review store). `tracker` hears of each stage and of
    the papers embedded. Returns a summary.
    """
    if not papers:
        raise RunError("no papers to process")
    runs_dir = Path(runs_dir)
    check_writable(runs_dir)
    seed = config.seed
    spec: EmbedderSpec | None = config.embed if embedder is None else None
    if isinstance(embedder, str):
        spec, embedder = embedder, None
    embedder = embedder or embedder_of(spec)
    if config.engine == "ray" and spec is None:
        raise RunError(
            "the ray engine builds the embedder in each worker: give it as module:factory "
            "(--embedder) or configure [embed], not as a live object"
        )
    timings = timings or Timings()
    try:
        engine = open_engine(config)
    except EngineError as exc:
        raise RunError(str(exc)) from None
    stages = _Stages(progress, len(papers), timings, tracker)
    cache_dir = config.embed.cache_dir if config.embed.use_cache else None
    # Fit on a sample: the map is fitted on the same sample and the other papers placed on it
    # (no neighbour graph over all papers: at 75k it cost as much as the clustering, at millions
    # it cannot be built).
    fit_size = fit_sample_size(len(papers), config.cluster.fit_sample)
    map_on_sample = fit_size < len(papers)
    try:
        with stages("embed"), stages.papers_bar() as counted:
            embedded = _embed(papers, embedder, spec, engine, config, counted)
        embeddings = embedded.embeddings
        with stages("neighbours"):
            width = neighbour_width(len(papers), config.cluster.n_neighbors)
            knn = None if map_on_sample else neighbour_graph(embeddings, width, seed)
        with stages("cluster"):
            docs = [paper_text(p) for p in papers]
            keyword_embedder = BertopicEmbedder(embedder, cache_dir, config.embed.batch_size)
            titles = [p.title for p in papers]
            if map_on_sample:
                clusters = cluster_on_sample(
                    docs,
                    embeddings,
                    config.cluster,
                    seed,
                    keyword_embedder,
                    titles=titles,
                    map_chunks=_engine_chunks(engine),
                )
            else:
                clusters = cluster_papers(
                    docs, embeddings, config.cluster, seed, keyword_embedder, knn=knn, titles=titles
                )
        with stages("layout"):
            if map_on_sample:
                layout = layout_on_sample(
                    embeddings,
                    config.layout,
                    seed,
                    fit_size,
                    map_chunks=_engine_chunks(engine),
                )
            else:
                layout = layout_papers(embeddings, config.layout, seed, knn=knn)
        with stages("themes"):
            theme_result = assign_themes(
                embeddings,
                titles,
                [p.abstract for p in papers],
                [p.paper_id for p in papers],
                themes,
                _cached_encoder(embedder, cache_dir, config.embed.batch_size),
                config.themes,
                answers=answers,
                seed=seed,
                themes_source=str(themes_file or "themes file"),
            )
            themed = theme_result.assignment
        with stages("derive"):
            frame = papers_frame(papers)
            assignments = pd.DataFrame(
                {
                    "paper_id": frame["paper_id"],
                    "cluster_id": clusters.cluster_ids.astype(np.int64),
                    "initial_cluster_id": clusters.initial_cluster_ids.astype(np.int64),
                    "is_reassigned": (clusters.initial_cluster_ids == UNASSIGNED)
                    & (clusters.cluster_ids != UNASSIGNED),
                    "cluster_probability": clusters.probabilities,
                    "theme_id": themed.theme_ids.astype(str),
                    "theme_probability": themed.theme_probability,
                    "secondary_theme_id": themed.secondary_ids,
                    "map_x": layout.map_x,
                    "map_y": layout.map_y,
                }
            )
            representatives = derive.representative_ids(
                derive.unit_rows(embeddings),
                clusters.cluster_ids,
                list(frame["paper_id"]),
                config.cluster.n_representative,
            )
            cluster_rows = derive.clusters_table(
                assignments,
                pd.to_datetime(frame["published"]),
                clusters.labels,
                clusters.keywords,
                representatives,
            )
            tables = {
                "papers": frame,
                "assignments": assignments,
                "clusters": cluster_rows,
                "themes": derive.themes_table(
                    _theme_definitions(theme_result), assignments["theme_id"], cluster_rows
                ),
                "hierarchy": clusters.hierarchy,
                "theme_labels": pd.DataFrame(
                    [dataclasses.asdict(label) for label in theme_result.examples],
                    columns=[c.name for c in contract.TABLES["theme_labels"]],
                ),
                "rejections": rejections_frame(rejections),
            }
        with stages("write"):
            timings.seconds.update({f"cluster.{k}": v for k, v in clusters.timings_s.items()})
            n_rejected = sum(r.severity == "rejected" for r in rejections)
            manifest = contract.Manifest(
                run_id=run_id or new_run_id(),
                created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                inputs=tuple(file_digest(Path(p)) for p in input_files),
                config=config_to_dict(config),
                seed=seed,
                embedding_model=embedded.model_id,
                counts=contract.Counts(
                    n_papers=len(papers),
                    n_rejected=int(n_rejected),
                    n_warnings=len(rejections) - int(n_rejected),
                    n_clusters=clusters.n_clusters,
                    n_unassigned=clusters.n_unassigned,
                    n_themes=len(theme_result.themes),
                ),
                timings_s=timings.rounded(),
                packages=package_versions(),
                themes_file=file_digest(Path(themes_file)) if themes_file else None,
                theme_method=theme_result.method,
                cluster_params=clusters.params,
                embedding_cache={
                    "n_cached": embedded.n_cached,
                    "n_embedded": embedded.n_embedded,
                },
                theme_labels={
                    "examples": themed.n_used["example"],
                    "answers": themed.n_used["answer"],
                },
                warnings=(*clusters.warnings, *theme_result.warnings),
            )
            fitted = FittedRun(
                clusters=fitted_clusters(clusters, embeddings, config.cluster),
                only_cluster=int(clusters.cluster_ids[0]),
                map_model=layout.model,
                cluster_rows=fit_rows(len(papers), config.cluster, seed),
                map_rows=fit_rows(len(papers), config.cluster, seed) if map_on_sample else None,
            )
            path = _publish(
                runs_dir,
                tables,
                embeddings,
                theme_result.prior,
                manifest,
                clusters.model,
                embedder,
                fitted,
            )
    finally:
        stages.close()
        engine.close()
    return RunSummary(
        run_id=manifest.run_id,
        path=path,
        n_papers=len(papers),
        n_rejected=manifest.counts.n_rejected,
        n_warnings=manifest.counts.n_warnings,
        n_clusters=clusters.n_clusters,
        n_unassigned=clusters.n_unassigned,
        theme_counts=assignments["theme_id"].value_counts().to_dict(),
        timings_s=dict(timings.seconds),
        warnings=manifest.warnings,
        theme_labels=manifest.theme_labels,
        embed_cached=embedded.n_cached,
        embed_computed=embedded.n_embedded,
        cluster_params=clusters.params,
    )


def _theme_definitions(result: ThemeResult) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "theme_id": t.theme_id,
                "name": t.name,
                "description": t.description,
                "key_terms": list(t.key_terms),
                "is_generated": result.is_generated,
            }
            for t in result.themes
        ],
        columns=["theme_id", "name", "description", "key_terms", "is_generated"],
    )


def _embed(papers, embedder, spec, engine: Engine, config: PipelineConfig, progress):
    try:
        if engine.name == "ray":
            return engine.embed_papers(papers, spec, config.embed, progress)
        return embed_papers(papers, embedder, config.embed, progress=progress)
    except sqlite3.Error as exc:
        raise RunError(f"embedding cache in {config.embed.cache_dir} failed: {exc}") from None
    except (EngineError, OSError) as exc:
        raise RunError(str(exc)) from None


def _engine_chunks(engine: Engine):
    """The engine's `map_chunks`, its failures as RunError (one line)."""

    def map_chunks(fn, shared, rows):
        try:
            return engine.map_chunks(fn, shared, rows)
        except EngineError as exc:
            raise RunError(str(exc)) from None

    return map_chunks


def _cached_encoder(embedder: Embedder, cache_dir: str | None, batch_size: int):
    """texts -> vectors through the content cache (theme descriptions and key terms)."""

    def encode(texts: list[str]) -> np.ndarray:
        cache = EmbeddingCache(cache_dir) if cache_dir else None
        try:
            return encode_cached(texts, embedder, cache, batch_size)[0]
        finally:
            if cache is not None:
                cache.close()

    return encode


def _publish(
    runs_dir, tables, embeddings, theme_prior, manifest, model, embedder, fitted: FittedRun
) -> Path:
    """Write the run folder (tables, embeddings, BERTopic model and the fitted models `add`
    reuses, manifest last)."""
    model_path = getattr(embedder, "model_path", None)

    def write_model(folder: Path) -> None:
        with quiet_bertopic():
            model.save(
                str(folder),
                serialization="safetensors",
                save_ctfidf=True,
                save_embedding_model=str(model_path) if model_path else False,
            )
        save_fitted(folder / contract.FITTED_MODELS, fitted, embeddings)

    try:
        return contract.write_run(
            runs_dir, tables, embeddings, manifest, theme_prior, write_model=write_model
        )
    except OSError as exc:
        raise RunError(f"cannot write run to {runs_dir}: {exc.strerror or exc}") from None


def run_pipeline(
    inputs: Sequence[str | Path],
    config: PipelineConfig,
    runs_dir: str | Path,
    *,
    themes_file: str | Path | None = None,
    embedder: Embedder | str | None = None,
    progress: bool = False,
    answers: Sequence[ThemeLabel] = (),
    progress_file: str | Path | None = None,
) -> RunSummary:
    """Ingest `inputs` (files or folders), then `build_run`. Raises RunError, ThemesFileError or
    the ingest package's IngestError for user errors. `progress_file`: where to write progress
    as JSON lines (see `ProgressFile`), ending with a "done" or "failed" line."""
    from pipeline.ingest import ingest
    from pipeline.themes import load_themes

    tracker = ProgressFile(progress_file) if progress_file else None
    try:
        themes = load_themes(themes_file) if themes_file else None
        check_writable(Path(runs_dir))
        timings = Timings()
        with timings.step("ingest"):
            result = ingest([Path(p) for p in inputs], config.ingest)
        summary = build_run(
            result.papers,
            result.rejections,
            config,
            runs_dir,
            themes=themes,
            themes_file=themes_file,
            input_files=result.input_files,
            embedder=embedder,
            progress=progress,
            timings=timings,
            answers=answers,
            tracker=tracker,
        )
    except Exception as exc:
        if tracker is not None:
            tracker.failed(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        raise
    if tracker is not None:
        tracker.done(summary)
    return summary


def with_seed(config: PipelineConfig, seed: int | None) -> PipelineConfig:
    """The config with `seed` replaced when given."""
    return config if seed is None else dataclasses.replace(config, seed=seed)


def with_engine(
    config: PipelineConfig, engine: str | None, ray_address: str | None
) -> PipelineConfig:
    """The config with `engine` and `ray.address` replaced when given (validated: ConfigError)."""
    if engine is not None:
        config = dataclasses.replace(config, engine=engine)
    if ray_address is not None:
        config = dataclasses.replace(
            config, ray=dataclasses.replace(config.ray, address=ray_address)
        )
    return config
