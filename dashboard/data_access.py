"""The dashboard's only door to run data and its only home of `st.cache_*`: reads runs through
`pipeline.contract` from $RTE_RUNS_DIR (default data/runs) and serves the derived views.

Every page gets its tables from `view_tables(run_id)`, the run with its review decisions
applied (renames, merges, moves: `pipeline.review.load_state`, called in `_review_state`), or
the run's own tables when the review store cannot be read (`review_health` says why).
Cached objects are shared between sessions: treat returned DataFrames and arrays as read-only
(copy before changing).

Search (`search_papers`) ranks papers by meaning with the model the run was embedded with: the
bundled MiniLM, or the factory $RTE_EMBEDDER names (`module:factory`; the tests' seam, e.g.
`tests.fake_embedder:FakeEmbedder`). The model loads in a background thread, once per server,
when a run made with it is first shown (`warm_query_model`), never at import; any other run is
searched by words, with a note saying why. The word search of a run of
`word_index.WORD_INDEX_ABOVE` papers or more reads an inverted index of its texts, built in a
background thread after the run's first page is drawn (`warm_word_index`).
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import density, figures, layers, palette, search, transforms, word_index
from pipeline import contract, derive, review

RUNS_ENV = "RTE_RUNS_DIR"
ROOT = Path(__file__).resolve().parents[1]


def runs_dir() -> Path:
    """The runs folder: $RTE_RUNS_DIR, else data/runs in the repository."""
    configured = os.environ.get(RUNS_ENV)
    return Path(configured).expanduser() if configured else ROOT / "data" / "runs"


@st.cache_data(ttl=10, show_spinner=False)
def _run_list(folder: str) -> list[contract.RunEntry]:
    return contract.list_runs(folder)


def available_runs() -> list[contract.RunEntry]:
    """The complete runs, newest first; those this code cannot open carry their `problem`."""
    return _run_list(str(runs_dir()))


def refresh_runs() -> None:
    """Forget the run list, so a run published a moment ago is listed at once."""
    _run_list.clear()


def latest_run_id() -> str | None:
    """The run the `latest` pointer names, if it is complete."""
    return contract.latest_run_id(runs_dir())


@st.cache_resource(max_entries=3, show_spinner="Loading run…")
def _load_run(folder: str, run_id: str) -> contract.Run:
    return contract.read_run(folder, run_id)


def load_run(run_id: str) -> contract.Run:
    """Read and validate a run once per process (raises ContractError / IncompatibleRunError)."""
    return _load_run(str(runs_dir()), run_id)


REVIEW_ENV = "RTE_REVIEW_DB"  # review store file; default review.sqlite beside the runs folder
UNREADABLE = "unreadable"  # the review token when the store cannot be read


@dataclass(frozen=True)
class ReviewHealth:
    """Whether the review store can be read and written, for the pages to say so."""

    path: Path
    unreadable: str = ""  # why the log cannot be read ("" when it can): pages show the run as is
    read_only: str = ""  # why decisions cannot be saved ("" when they can)

    @property
    def can_save(self) -> bool:
        return not (self.unreadable or self.read_only)


@st.cache_resource(show_spinner=False)
def _review_store(path: str) -> review.ReviewStore:
    return review.ReviewStore(path)


def review_store() -> review.ReviewStore:
    """The review decision store: $RTE_REVIEW_DB, else review.sqlite beside the runs folder."""
    configured = os.environ.get(REVIEW_ENV)
    path = Path(configured).expanduser() if configured else review.default_store_path(runs_dir())
    return _review_store(str(path))


def review_token(run_id: str) -> str:
    """Identifies the state of the review decisions for `run_id` (part of the cache key of
    `view_tables`): "<the run's review version>.<the store's answers version>", read from the
    store on every rerun, or UNREADABLE when the store cannot be read (the pages then show the
    run's own tables)."""
    store = review_store()
    try:  # theme answers of any run apply here too: their version is part of the token
        return f"{store.version(run_id)}.{store.answers_version()}"
    except review.StoreUnreadable:
        _review_store.clear()  # open the file afresh next time: it may be moved aside or restored
        return UNREADABLE


def review_health(run_id: str) -> ReviewHealth:
    """Can the review store be read, and written? Never raises for a damaged or locked-down
    file: the answer says why, in words."""
    store = review_store()
    try:
        store.version(run_id)
        return ReviewHealth(store.path, read_only=store.read_only_reason)
    except review.StoreUnreadable as exc:
        _review_store.clear()
        return ReviewHealth(store.path, unreadable=exc.reason)


@st.cache_resource(max_entries=4, show_spinner="Applying review decisions…")
def _review_state(folder: str, run_id: str, token: str) -> review.ReviewState:
    run = _load_run(folder, run_id)
    if token == UNREADABLE:
        return review.unreviewed_state(run)
    version = int(token.split(".")[0])
    return review.load_state(review_store(), run, version)  # raises (uncached) if damaged


def review_state(run_id: str) -> review.ReviewState:
    """The run's reviewed state (tables in run-table form, log, version) at the current version;
    the run's own tables (version 0, no decision) when the store cannot be read."""
    try:
        return _review_state(str(runs_dir()), run_id, review_token(run_id))
    except review.StoreUnreadable:  # damaged since its version was read
        return _review_state(str(runs_dir()), run_id, UNREADABLE)


@st.cache_resource(max_entries=3, show_spinner="Preparing views…")
def _view_tables(folder: str, run_id: str, token: str) -> dict[str, pd.DataFrame]:
    reviewed = _review_state(folder, run_id, token)
    source = reviewed.tables  # the run with review decisions applied
    tables = {
        "theme_probabilities": pd.DataFrame(
            reviewed.theme_probabilities, columns=source["themes"]["theme_id"].tolist()
        ),
        "papers": transforms.paper_view(source),
        "clusters": transforms.cluster_view(source),
        "themes": source["themes"],
        "hierarchy": source["hierarchy"],
        "rejections": source["rejections"],
    }
    # Visible markers where a person changed something (moved paper, renamed cluster, ...).
    tables["papers"]["is_changed"] = source["assignments"]["is_edited"].to_numpy()
    tables["papers"]["is_moved"] = source["assignments"]["is_moved"].to_numpy()
    edited = source["clusters"].set_index("cluster_id")["is_edited"]
    changed = tables["clusters"]["cluster_id"].map(edited)
    tables["clusters"]["is_changed"] = changed.fillna(False).astype(bool)
    return tables


def view_tables(run_id: str) -> dict[str, pd.DataFrame]:
    """All tables the pages show, in reviewed state: papers (one row per paper, see
    `transforms.paper_view`), clusters, themes, hierarchy, rejections, and
    theme_probabilities (one column per theme, rows aligned with papers); the run's own tables
    when the review store cannot be read."""
    try:
        return _view_tables(str(runs_dir()), run_id, review_token(run_id))
    except review.StoreUnreadable:  # damaged since its version was read
        return _view_tables(str(runs_dir()), run_id, UNREADABLE)


@st.cache_data(max_entries=64, show_spinner=False)
def _filter_mask(
    folder: str,
    run_id: str,
    token: str,
    themes: tuple[str, ...],
    clusters: tuple[int, ...],
    date_from: dt.date | None,
    date_to: dt.date | None,
    query: str,
    spec: str | None,
) -> np.ndarray:
    papers = _view_tables(folder, run_id, token)["papers"]
    filters = transforms.Filters(themes, clusters, date_from, date_to, query)
    searched = _search(folder, run_id, token, query, spec).mask if query else None
    return transforms.filter_mask(papers, filters, searched)


def _filter_key(filters: transforms.Filters) -> tuple:
    return (
        tuple(filters.themes),
        tuple(int(c) for c in filters.clusters),
        filters.date_from,
        filters.date_to,
        filters.query.strip(),
        embedder_spec(),  # the search depends on it
    )


def filter_mask(run_id: str, filters: transforms.Filters) -> np.ndarray:
    """Boolean mask over `view_tables(run_id)["papers"]` of the papers passing `filters`."""
    return _filter_mask(str(runs_dir()), run_id, review_token(run_id), *_filter_key(filters))


@st.cache_resource(max_entries=2, show_spinner="Loading embeddings…")
def _unit_embeddings(folder: str, run_id: str) -> np.ndarray:
    return derive.unit_rows(_load_run(folder, run_id).embeddings(mmap=False))


def unit_embeddings(run_id: str) -> np.ndarray:
    """The run's embeddings with unit rows (float32), loaded once per process."""
    return _unit_embeddings(str(runs_dir()), run_id)


@st.cache_data(max_entries=8, show_spinner="Estimating theme accuracy…")
def _theme_accuracy(folder: str, run_id: str, token: str) -> tuple:
    reviewed = _review_state(folder, run_id, token)
    return review.theme_accuracy(reviewed.answers, _load_run(folder, run_id))


def theme_accuracy(run_id: str) -> tuple:
    """(audit, cross-validated) `AccuracyEstimate`s of the run's themes from the answers."""
    return _theme_accuracy(str(runs_dir()), run_id, review_token(run_id))


EMBEDDER_ENV = "RTE_EMBEDDER"  # module:factory of the query model and of runs started here
BUNDLED = "bundled"  # the spec of the bundled MiniLM


def embedder_spec() -> str | None:
    """The embedder $RTE_EMBEDDER names (`module:factory`), else None: the bundled model."""
    return os.environ.get(EMBEDDER_ENV) or None


def _model_spec(model_id: str, configured: str | None) -> str | None:
    """What embeds queries for a run embedded with `model_id`: the `configured` spec
    ($RTE_EMBEDDER) when set, the bundled MiniLM when the run used it, else None (that run is
    searched by words)."""
    from pipeline.embed import BUNDLED_MODEL_ID  # the embedder module only when searching

    # A query is short: the bundled model embeds it alike whatever window the run's papers had
    # ("...@128tok").
    bundled = model_id.split("@")[0] == BUNDLED_MODEL_ID
    return configured or (BUNDLED if bundled else None)


def _load_query_model(spec: str):
    from pipeline import embed  # torch and sentence-transformers load here, in the background

    if spec != BUNDLED:
        return embed.embedder_from_spec(spec)
    model = embed.SentenceTransformerEmbedder(
        embed.bundled_model_path(), embed.BUNDLED_MODEL_ID, threads=1
    )
    model.encode(["warm up"])  # the first forward pass is slow
    return model


def _in_background(name: str, work: Callable[[], Any]) -> Future:
    """`work()` in a daemon thread; its result, or the exception it raised, in the Future."""
    future: Future = Future()

    def run() -> None:
        try:
            future.set_result(work())
        except Exception as exc:  # noqa: BLE001 - the caller decides (e.g. search by words)
            future.set_exception(exc)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future


@st.cache_resource(show_spinner=False)
def _query_model(spec: str) -> Future:
    """The query model, loading in a background thread once per server (a Future)."""
    return _in_background("query-model", lambda: _load_query_model(spec))


@st.cache_resource(max_entries=2, show_spinner=False)
def _word_index(folder: str, run_id: str, _search_text: pd.Series) -> Future:
    """The run's word index (`dashboard.word_index`), built in a background thread once per
    server (a Future); the search texts are the same in every review state."""
    return _in_background("word-index", lambda: word_index.WordIndex(_search_text))


def _words_of(folder: str, run_id: str, papers: pd.DataFrame) -> word_index.WordIndex | None:
    """The word index of a run of WORD_INDEX_ABOVE papers or more (waiting for its build),
    else None (scan the texts); None too when the build failed: the scan gives the same."""
    if len(papers) < word_index.WORD_INDEX_ABOVE:
        return None
    try:
        return _word_index(folder, run_id, papers["search_text"]).result()
    except Exception:  # noqa: BLE001 - e.g. out of memory: scanning is slower, not wrong
        return None


def warm_word_index(run_id: str) -> None:
    """Start building a large run's word index (no wait), so its first search need not."""
    papers = view_tables(run_id)["papers"]
    if len(papers) >= word_index.WORD_INDEX_ABOVE:
        _word_index(str(runs_dir()), run_id, papers["search_text"])


def warm_query_model(model_id: str) -> None:
    """Start loading the query model of a run embedded with `model_id` (no wait), so the first
    search does not wait for torch; nothing for a run searched by words."""
    spec = _model_spec(model_id, embedder_spec())
    if spec is not None:
        _query_model(spec)


@st.cache_data(max_entries=256, show_spinner=False)
def _query_vector(spec: str, query: str) -> np.ndarray:
    return np.asarray(_query_model(spec).result().encode([query])[0], dtype=np.float32)


@st.cache_data(max_entries=64, show_spinner="Searching…")
def _search(
    folder: str, run_id: str, token: str, query: str, configured: str | None
) -> search.SearchResult:
    papers = _view_tables(folder, run_id, token)["papers"]
    literal = transforms.search_mask(
        papers["search_text"], query, _words_of(folder, run_id, papers)
    )
    like = search.like_paper_id(query)
    if like is not None:
        rows = np.flatnonzero(papers["paper_id"].to_numpy() == like)
        if not len(rows):
            return search.by_words(query, literal, f"no paper {like} in this run")
        return search.papers_like(query, _unit_embeddings(folder, run_id), int(rows[0]))
    model_id = _load_run(folder, run_id).manifest.embedding_model
    spec = _model_spec(model_id, configured)
    if spec is None:
        return search.by_words(query, literal, f"this run's model '{model_id}' is not loadable")
    try:
        model = _query_model(spec).result()
        vector = _query_vector(spec, query)
    except Exception as exc:  # noqa: BLE001 - a model that fails to load: search by words
        return search.by_words(query, literal, f"the search model failed to load: {exc}")
    embeddings = _unit_embeddings(folder, run_id)
    if model.model_id != model_id or vector.shape != embeddings.shape[1:]:
        return search.by_words(query, literal, f"the search model is not this run's '{model_id}'")
    return search.by_meaning(query, embeddings, vector, literal)


def search_papers(run_id: str, query: str) -> search.SearchResult:
    """The papers `query` matches (by meaning and by words; `like:<paper_id>`: papers like
    that one), best first; see `dashboard.search` for the rule."""
    return _search(str(runs_dir()), run_id, review_token(run_id), query.strip(), embedder_spec())


def nearest_papers(run_id: str, row: int, k: int = 8) -> pd.DataFrame:
    """The `k` papers closest to paper `row` by embedding cosine, with a `similarity` column."""
    emb = _unit_embeddings(str(runs_dir()), run_id)
    rows, sims = transforms.nearest_rows(emb, row, k)
    papers = view_tables(run_id)["papers"]
    out = papers.iloc[rows].copy()
    out["similarity"] = sims
    return out


@st.cache_resource(max_entries=2, show_spinner=False)
def _map_density(folder: str, run_id: str) -> density.Density:
    assignments = _load_run(folder, run_id).assignments  # review never moves a map position
    return density.density_grid(assignments["map_x"], assignments["map_y"])


@st.cache_resource(max_entries=8, show_spinner=False)
def _paper_map(
    folder: str,
    run_id: str,
    token: str,
    filter_key: tuple,
    color_by: str,
    selected_row: int | None,
    max_labels: int,
    zoom: tuple[float, float, float, float] | None,
) -> go.Figure:
    tables = _view_tables(folder, run_id, token)
    clusters = tables["clusters"]
    is_dense = density.is_dense(len(tables["papers"]))
    decided = layers.map_layers(
        tables["papers"],
        shown=_filter_mask(folder, run_id, token, *filter_key),
        color_by=color_by,
        colors=palette.theme_colors(tables["themes"]["theme_id"].tolist()),
        selected_row=selected_row,
        labels=True,
        max_labels=max_labels,
        edited_clusters=set(clusters.loc[clusters["is_changed"], "cluster_id"]),
        density=_map_density(folder, run_id) if is_dense and zoom is None else None,
        zoom=zoom,
    )
    return figures.map_figure(decided)


def paper_map(
    run_id: str,
    filters: transforms.Filters,
    color_by: str,
    selected_row: int | None,
    max_labels: int = 40,
    zoom: tuple[float, float, float, float] | None = None,
) -> go.Figure:
    """The paper map for the filtered view (built once per filter state; do not modify it).
    A dense map (`density.is_dense`) shows every paper as a density; `zoom` (x0, x1, y0, y1)
    narrows it to that window."""
    return _paper_map(
        str(runs_dir()),
        run_id,
        review_token(run_id),
        _filter_key(filters),
        color_by,
        selected_row,
        max_labels,
        zoom,
    )
