"""`pipeline add`: reads an existing run (tables, embeddings, the models it saved) and new paper
listings; produces a new run holding both: only the new papers are embedded, then assigned to the
run's clusters and placed on its map (`pipeline.assign.graph_place`: no UMAP, no numba), themed,
and the run is published atomically like `run`'s, with the parent's id in its manifest. The
parent run and `latest` stay as they were until then."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shutil
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import contract, derive
from pipeline.assign import (
    Assignment,
    FittedModelsError,
    FittedRun,
    assign_clusters,
    load_fitted,
    place_on_map,
)
from pipeline.config import ConfigError, PipelineConfig, config_from_dict, config_to_dict
from pipeline.contract import UNASSIGNED, UNASSIGNED_LABEL
from pipeline.embed import Embedder, embed_papers, embedder_from_config
from pipeline.ingest.text import title_key
from pipeline.records import Paper
from pipeline.themes import Theme, ThemeLabel, extend_prior
from pipeline.themes.evidence import unit
from pipeline.themes.model import assign_from_prior
from pipeline.timing import Timings

ADD_STAGES = ("read", "ingest", "embed", "assign", "themes", "derive", "write")


class AddError(Exception):
    """An add that is refused or cannot be completed, for a reason the user can fix (one line)."""


class NothingToAdd(Exception):
    """No paper of the inputs is new to the run: nothing is written (not an error)."""


@dataclass(frozen=True)
class AddSummary:
    """What an add did, for the summary line and for tests."""

    run_id: str
    path: Path
    parent_run_id: str
    n_papers: int
    n_added: int
    n_already_in_run: int
    n_rejected: int
    n_warnings: int
    n_clusters: int
    n_unassigned_added: int
    rerun_share: float
    embed_cached: int
    embed_computed: int
    timings_s: dict[str, float]

    @property
    def unassigned_share(self) -> float:
        return self.n_unassigned_added / self.n_added if self.n_added else 0.0

    @property
    def is_rerun_recommended(self) -> bool:
        return self.unassigned_share > self.rerun_share


@dataclass(frozen=True)
class Parent:
    """The run papers are added to, checked: the run, its config, its saved models and its
    embeddings (float32, rows in papers order)."""

    run: contract.Run
    config: PipelineConfig
    fitted: FittedRun
    embeddings: np.ndarray


def read_parent(runs_dir: str | Path, run_id: str | None, model_id: str) -> Parent:
    """The run to add to (default: latest), refused with the reason (AddError) when it cannot be
    read, was written by another schema, was embedded by another model than `model_id`, or has
    no usable saved models."""
    try:
        run = contract.read_run(runs_dir, run_id)
    except contract.ContractError as exc:
        if run_id is None and contract.latest_run_id(runs_dir) is None:
            raise AddError(
                f"no run to add to in {runs_dir}; build one with `python -m pipeline run`"
            ) from None
        raise AddError(f"cannot add to this run: {exc}") from None
    where = f"cannot add to run {run.run_id}"
    if run.manifest.embedding_model != model_id:
        raise AddError(
            f"{where}: it was embedded with {run.manifest.embedding_model}, this add would "
            f"embed with {model_id}; use the run's embedding settings or run the full pipeline"
        )
    try:
        config = config_from_dict(run.manifest.config)
    except ConfigError as exc:
        raise AddError(f"{where}: its config is not readable here ({exc})") from None
    try:
        embeddings = np.asarray(run.embeddings(mmap=False), dtype=np.float32)
    except (OSError, ValueError) as exc:
        raise AddError(f"{where}: cannot read {contract.EMBEDDINGS} ({exc})") from None
    if embeddings.ndim != 2 or len(embeddings) != len(run.papers):
        raise AddError(f"{where}: {contract.EMBEDDINGS} does not match its papers")
    try:
        fitted = load_fitted(run.path / contract.MODEL_DIR / contract.FITTED_MODELS, embeddings)
    except FittedModelsError as exc:
        raise AddError(f"{where}: {exc}; rebuild it with `python -m pipeline run`") from None
    if fitted.map_model is None:
        raise AddError(f"{where}: it is too small to have a map model (under 16 papers)")
    return Parent(run, config, fitted, embeddings)


def split_known(papers: Sequence[Paper], run_papers: pd.DataFrame) -> tuple[list[Paper], int]:
    """(papers not in the run, how many are): a paper is in the run when its paper id, arXiv id,
    DOI or normalised title is a run paper's (ingest's dedupe keys; distinct arXiv ids never
    match). The run's record is kept as it is."""
    ids = set(run_papers["paper_id"])
    arxiv = set(run_papers["arxiv_id"].dropna())
    dois = set(run_papers["doi"].dropna())
    titles = {
        title_key(t): a if isinstance(a, str) else None
        for t, a in zip(run_papers["title"], run_papers["arxiv_id"], strict=True)
    }
    new: list[Paper] = []
    for paper in papers:
        key = title_key(paper.title)
        known = (
            paper.paper_id in ids
            or (paper.arxiv_id and paper.arxiv_id in arxiv)
            or (paper.doi and paper.doi in dois)
            or (
                bool(key)
                and key in titles
                and not (paper.arxiv_id and titles[key] and titles[key] != paper.arxiv_id)
            )
        )
        if not known:
            new.append(paper)
    return new, len(papers) - len(new)


def child_config(parent: PipelineConfig, config: PipelineConfig) -> PipelineConfig:
    """The added run's config: the parent's clustering, map, themes and seed (its models were
    fitted with them); reading, embedding and the add settings from `config`."""
    return dataclasses.replace(parent, ingest=config.ingest, embed=config.embed, add=config.add)


def add_papers(
    inputs: Sequence[str | Path],
    runs_dir: str | Path,
    config: PipelineConfig,
    *,
    to: str | None = None,
    embedder: Embedder | None = None,
    answers: Sequence[ThemeLabel] = (),
    run_id: str | None = None,
) -> AddSummary:
    """Add the papers of `inputs` to run `to` (default: latest) of `runs_dir` as a new run.

    `config` gives the reading, embedding and add settings (see `child_config`); `embedder`
    defaults to the configured model and must be the parent's. `answers` are reviewers' theme
    answers (by paper id). Raises AddError (refused, one line), NothingToAdd, or the ingest
    package's IngestError. Returns a summary.
    """
    from pipeline.ingest import IngestError, check_out_dir, ingest
    from pipeline.run import file_digest, new_run_id, package_versions

    runs_dir = Path(runs_dir)
    timings = Timings()
    embedder = embedder or embedder_from_config(config.embed)
    with timings.step("read"):
        parent = read_parent(runs_dir, to, embedder.model_id)
    try:
        check_out_dir(runs_dir)
    except IngestError as exc:
        raise AddError(str(exc)) from None
    run = parent.run
    config = child_config(parent.config, config)
    with timings.step("ingest"):
        result = ingest([Path(p) for p in inputs], config.ingest)
        new, n_known = split_known(result.papers, run.papers)
    if not new:
        read = len(result.papers)
        raise NothingToAdd(
            f"nothing to add: the {read} papers read are all in run {run.run_id} already"
            if read
            else "nothing to add: no papers read from the inputs"
        )
    with timings.step("embed"):
        try:
            embedded = embed_papers(new, embedder, config.embed)
        except sqlite3.Error as exc:
            raise AddError(f"embedding cache in {config.embed.cache_dir} failed: {exc}") from None
    vectors = embedded.embeddings
    with timings.step("assign"):
        placed = _assign(vectors, parent.fitted)
        map_x, map_y = place_on_map(vectors, parent.fitted.map_model, quick=True)
    run_assignments = run.assignments
    cluster_ids = np.concatenate([run_assignments["cluster_id"].to_numpy(), placed.cluster_ids])
    embeddings = np.vstack([parent.embeddings, vectors]).astype(np.float32)
    frame = pd.concat([run.papers, _papers_frame(new)], ignore_index=True)
    paper_ids = list(frame["paper_id"])
    with timings.step("themes"):
        themes = _themes(run.themes)
        is_generated = bool(run.themes["is_generated"].any())
        encode = _encoder(embedder, config)
        new_prior = extend_prior(
            run.theme_prior(),
            parent.embeddings,
            vectors,
            [p.title for p in new],
            [p.abstract for p in new],
            themes,
            is_generated,
            encode,
            config.themes,
        )
        prior = np.vstack([run.theme_prior(), new_prior]).astype(np.float32)
        examples = [
            ThemeLabel(r.paper_id, tuple(r.theme_ids), tuple(r.excluded), r.source)
            for r in run.theme_labels.itertuples(index=False)
        ]
        themed = assign_from_prior(
            prior,
            unit(embeddings),
            paper_ids,
            list(run.themes["theme_id"]),
            [*examples, *answers],
            config.themes,
        )
    with timings.step("derive"):
        added = pd.DataFrame(
            {
                "paper_id": [p.paper_id for p in new],
                "cluster_id": placed.cluster_ids.astype(np.int64),
                "initial_cluster_id": placed.initial_cluster_ids.astype(np.int64),
                "is_reassigned": (placed.initial_cluster_ids == UNASSIGNED)
                & (placed.cluster_ids != UNASSIGNED),
                "cluster_probability": placed.probabilities.astype(np.float64),
                "map_x": map_x,
                "map_y": map_y,
            }
        )
        assignments = pd.concat([run_assignments, added], ignore_index=True)
        assignments["theme_id"] = themed.theme_ids.astype(str)
        assignments["theme_probability"] = themed.theme_probability
        assignments["secondary_theme_id"] = themed.secondary_ids
        assignments = assignments[[c.name for c in contract.TABLES["assignments"]]]
        tables = _tables(run, frame, assignments, embeddings, config, result.rejections)
    n_unassigned_added = int((placed.cluster_ids == UNASSIGNED).sum())
    share = n_unassigned_added / len(new)
    n_rejected = sum(r.severity == "rejected" for r in result.rejections)
    counts = run.manifest.counts
    with timings.step("write"):
        manifest = contract.Manifest(
            run_id=run_id or new_run_id(),
            created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            inputs=(*run.manifest.inputs, *(file_digest(Path(p)) for p in result.input_files)),
            config=config_to_dict(config),
            seed=run.manifest.seed,
            embedding_model=embedded.model_id,
            counts=contract.Counts(
                n_papers=len(frame),
                n_rejected=counts.n_rejected + int(n_rejected),
                n_warnings=counts.n_warnings + len(result.rejections) - int(n_rejected),
                n_clusters=len({int(c) for c in cluster_ids if c != UNASSIGNED}),
                n_unassigned=int((cluster_ids == UNASSIGNED).sum()),
                n_themes=counts.n_themes,
            ),
            timings_s=timings.rounded(),
            packages=package_versions(),
            themes_file=run.manifest.themes_file,
            theme_method=run.manifest.theme_method,
            cluster_params=run.manifest.cluster_params,
            embedding_cache={"n_cached": embedded.n_cached, "n_embedded": embedded.n_embedded},
            theme_labels={"examples": themed.n_used["example"], "answers": themed.n_used["answer"]},
            warnings=tuple(
                dict.fromkeys(
                    [
                        *run.manifest.warnings,
                        *(f"theme label not used: {s}" for s in themed.skipped),
                    ]
                )
            ),
            parent_run_id=run.run_id,
            addition=contract.Addition(
                n_added=len(new),
                n_already_in_run=n_known,
                n_unassigned=n_unassigned_added,
                unassigned_share=share,
                rerun_share=config.add.rerun_share,
                is_rerun_recommended=share > config.add.rerun_share,
            ),
        )
        try:
            path = contract.write_run(
                runs_dir,
                tables,
                embeddings,
                manifest,
                prior,
                write_model=lambda folder: _copy_models(run.path / contract.MODEL_DIR, folder),
            )
        except OSError as exc:
            raise AddError(f"cannot write run to {runs_dir}: {exc.strerror or exc}") from None
    return AddSummary(
        run_id=manifest.run_id,
        path=path,
        parent_run_id=run.run_id,
        n_papers=len(frame),
        n_added=len(new),
        n_already_in_run=n_known,
        n_rejected=int(n_rejected),
        n_warnings=len(result.rejections) - int(n_rejected),
        n_clusters=manifest.counts.n_clusters,
        n_unassigned_added=n_unassigned_added,
        rerun_share=config.add.rerun_share,
        embed_cached=embedded.n_cached,
        embed_computed=embedded.n_embedded,
        timings_s=dict(timings.seconds),
    )


def _assign(vectors: np.ndarray, fitted: FittedRun) -> Assignment:
    """New papers in the run's clusters; all in the one cluster when the run clustered nothing."""
    if fitted.clusters is not None:
        return assign_clusters(vectors, fitted.clusters, quick=True, require_fit=True)
    n = len(vectors)
    only = np.full(n, fitted.only_cluster, dtype=np.int64)
    return Assignment(only, only.copy(), np.ones(n))


def _papers_frame(papers: Sequence[Paper]) -> pd.DataFrame:
    """New papers as a papers table whose dates match the read run's (datetime64)."""
    from pipeline.ingest import papers_frame

    frame = papers_frame(papers)
    frame["published"] = pd.to_datetime(frame["published"])
    return frame


def _themes(themes: pd.DataFrame) -> tuple[Theme, ...]:
    """The run's named or generated themes ("other" left out), as theme records."""
    return tuple(
        Theme(r.theme_id, r.name, r.description, tuple(r.key_terms))
        for r in themes.itertuples(index=False)
        if r.theme_id != contract.OTHER
    )


def _encoder(embedder: Embedder, config: PipelineConfig):
    from pipeline.run import _cached_encoder

    cache_dir = config.embed.cache_dir if config.embed.use_cache else None
    return _cached_encoder(embedder, cache_dir, config.embed.batch_size)


def _tables(run, frame, assignments, embeddings, config, rejections) -> dict[str, pd.DataFrame]:
    """Every table of the added run: the derived ones computed again over all papers (cluster
    sizes, dates, centres, dominant themes, representatives, theme counts); cluster labels,
    keywords, the hierarchy and the theme labels stay the parent's."""
    from pipeline.ingest import rejections_frame

    clusters = run.clusters
    labels = dict(zip(clusters["cluster_id"].astype(int), clusters["label"], strict=True))
    keywords = {
        int(c): tuple(k) for c, k in zip(clusters["cluster_id"], clusters["keywords"], strict=True)
    }
    labels.setdefault(UNASSIGNED, UNASSIGNED_LABEL)
    keywords.setdefault(UNASSIGNED, ())
    representatives = derive.representative_ids(
        derive.unit_rows(embeddings),
        assignments["cluster_id"].to_numpy(),
        list(frame["paper_id"]),
        config.cluster.n_representative,
    )
    cluster_rows = derive.clusters_table(
        assignments, frame["published"], labels, keywords, representatives
    )
    definitions = run.themes[run.themes["theme_id"] != contract.OTHER][
        ["theme_id", "name", "description", "key_terms", "is_generated"]
    ]
    papers = frame.copy()
    papers["published"] = (
        papers["published"].dt.date.astype(object).where(papers["published"].notna(), None)
    )
    return {
        "papers": papers,
        "assignments": assignments,
        "clusters": cluster_rows,
        "themes": derive.themes_table(definitions, assignments["theme_id"], cluster_rows),
        "hierarchy": run.hierarchy,
        "theme_labels": run.theme_labels,
        "rejections": pd.concat([run.rejections, rejections_frame(rejections)], ignore_index=True),
    }


def _copy_models(source: Path, folder: Path) -> None:
    """The parent's model folder, hard-linked where the file system allows (runs never change
    their files), else copied. Its saved models index the parent's rows, which come first here."""

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, folder, copy_function=link)
