"""The on-disk contract between the pipeline and the dashboard: run-folder layout, table
schemas, `SCHEMA_VERSION`, the manifest, and validated atomic write / validated read.

This module imports only the standard library, numpy, pandas and pyarrow, so the dashboard can
use it without pulling in torch, UMAP or BERTopic. It is over 500 lines on purpose: the whole
on-disk contract (columns, manifest, write, read) reads in one file, and the README's contract
tables are checked against it.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

SCHEMA_VERSION = 3
MANIFEST = "manifest.json"
LATEST = "latest"  # a text file in the runs folder holding the newest complete run id
EMBEDDINGS = "embeddings.npy"  # float32, shape (n_papers, dim), rows in papers.parquet order
MODEL_DIR = "model"  # BERTopic.save(..., serialization="safetensors")
# Inside MODEL_DIR: the fitted clustering space + HDBSCAN and the map UMAP that `pipeline add`
# reuses (a joblib pickle, without the training vectors, which are rows of EMBEDDINGS).
FITTED_MODELS = "fitted.joblib"
# float32, shape (n_papers, n_themes + 1): prior theme logits (from the themes file alone), columns
# in themes.parquet order ("other" last); with labels they give the papers' theme probabilities.
THEME_PRIOR = "theme_prior.npy"

# The shared vocabulary of run tables: every module that needs these imports them from here.
UNASSIGNED = -1  # cluster_id of papers in no cluster
UNASSIGNED_LABEL = "unassigned papers"  # the label of the unassigned group
OTHER = "other"  # theme_id (and name) of papers that fit none of the themes
OTHER_DESCRIPTION = "papers that fit none of the named themes well"
PERIOD_KINDS = ("month", "quarter", "year")  # the period kinds of timelines, finest first

_STR = pa.string()
_LIST_STR = pa.list_(pa.string())


@dataclass(frozen=True)
class Column:
    """One column of a run table: its Arrow type, whether it may hold nulls, and its meaning."""

    name: str
    type: pa.DataType
    doc: str
    nullable: bool = False


# Every table in a run, column by column. The README documents each one (a test checks that).
TABLES: dict[str, tuple[Column, ...]] = {
    "papers": (
        Column("paper_id", _STR, "stable id: arxiv:<id>, doi:<doi> or title:<hash>"),
        Column("title", _STR, "normalised title (plain text, may contain LaTeX)"),
        Column("abstract", _STR, "normalised abstract"),
        Column("published", pa.date32(), "first publication date (padded)", nullable=True),
        Column("date_precision", _STR, "day, month or year; null when no date", nullable=True),
        Column("authors", _LIST_STR, "author names in order"),
        Column("url", _STR, "link to the paper (arXiv abs page, DOI or source)", nullable=True),
        Column("categories", _LIST_STR, "subject categories (e.g. arXiv cs.CL)"),
        Column("arxiv_id", _STR, "arXiv id without version", nullable=True),
        Column("doi", _STR, "DOI, lower case", nullable=True),
        Column("source_file", _STR, "input file the paper was read from"),
        Column("source_location", _STR, "line N or record N inside source_file"),
        Column("extra", _STR, "JSON object of any other input fields kept"),
    ),
    "assignments": (
        Column("paper_id", _STR, "paper, one row per paper in papers order"),
        Column("cluster_id", pa.int64(), "final cluster, -1 = unassigned"),
        Column("initial_cluster_id", pa.int64(), "HDBSCAN cluster before outlier reduction"),
        Column("is_reassigned", pa.bool_(), "noise point moved into a cluster (outlier reduction)"),
        Column("cluster_probability", pa.float64(), "HDBSCAN membership strength 0..1"),
        Column("theme_id", _STR, "theme slug, or 'other'"),
        Column("theme_probability", pa.float64(), "probability that theme_id is right, 0..1"),
        Column("secondary_theme_id", _STR, "a second theme the paper clearly has", nullable=True),
        Column("map_x", pa.float64(), "2-D map coordinate (separate seeded UMAP)"),
        Column("map_y", pa.float64(), "2-D map coordinate (separate seeded UMAP)"),
    ),
    "clusters": (
        Column("cluster_id", pa.int64(), "cluster id, -1 = the unassigned papers"),
        Column("label", _STR, "short human label, 2-4 words"),
        Column("keywords", _LIST_STR, "top keywords, best first"),
        Column("n_papers", pa.int64(), "papers in the cluster"),
        Column("theme_id", _STR, "dominant theme slug, or 'other'"),
        Column("theme_share", pa.float64(), "share of the cluster's papers in the dominant theme"),
        Column("representative_paper_ids", _LIST_STR, "most typical papers, best first"),
        Column("first_published", pa.date32(), "earliest paper date", nullable=True),
        Column("last_published", pa.date32(), "latest paper date", nullable=True),
        Column("map_x", pa.float64(), "cluster centre on the map (median of its papers)"),
        Column("map_y", pa.float64(), "cluster centre on the map (median of its papers)"),
    ),
    "themes": (
        Column("theme_id", _STR, "slug, unique; 'other' for papers that fit no theme"),
        Column("name", _STR, "display name"),
        Column("description", _STR, "one-sentence description"),
        Column("key_terms", _LIST_STR, "optional key terms from the themes file; -x: counter term"),
        Column("n_papers", pa.int64(), "papers assigned to the theme"),
        Column("n_clusters", pa.int64(), "clusters whose dominant theme it is"),
        Column("is_generated", pa.bool_(), "true when derived from the hierarchy (no themes file)"),
    ),
    "hierarchy": (
        Column("parent_id", pa.int64(), "merged node id (ids above the leaf cluster ids)"),
        Column("parent_name", _STR, "keywords of the merged node"),
        Column("child_left_id", pa.int64(), "left child: a cluster id or another parent_id"),
        Column("child_right_id", pa.int64(), "right child: a cluster id or another parent_id"),
        Column("distance", pa.float64(), "linkage distance of the merge"),
        Column("cluster_ids", pa.list_(pa.int64()), "leaf clusters under the node"),
    ),
    "theme_labels": (
        Column("paper_id", _STR, "labelled paper"),
        Column("theme_ids", _LIST_STR, "themes it is in ('other' alone: none of them)"),
        Column("excluded", _LIST_STR, "themes it is not in (a counter-example)"),
        Column("source", _STR, "where the label comes from: example (the themes file)"),
    ),
    "rejections": (
        Column("source_file", _STR, "input file"),
        Column("source_location", _STR, "line N or record N, or 'file'"),
        Column("reason", _STR, "why the record was dropped or what was fixed"),
        Column("severity", _STR, "rejected (dropped) or warning (kept, fixed)"),
        Column("raw", _STR, "short excerpt of the offending input"),
    ),
}


class ContractError(Exception):
    """A run folder that does not match the contract (missing, corrupt or wrong schema)."""


class IncompatibleRunError(ContractError):
    """A run written with another schema version than this code reads."""


def arrow_schema(table: str) -> pa.Schema:
    """The Arrow schema of one run table."""
    return pa.schema([pa.field(c.name, c.type, nullable=c.nullable) for c in TABLES[table]])


def validate_table(table: str, frame: pd.DataFrame) -> pa.Table:
    """Check a DataFrame against its schema and convert it to an Arrow table.

    Raises ContractError naming the table and column when columns are missing or extra, a value
    does not fit the column type, or a non-nullable column holds nulls.
    """
    expected = [c.name for c in TABLES[table]]
    missing = [c for c in expected if c not in frame.columns]
    extra = [c for c in frame.columns if c not in expected]
    if missing or extra:
        raise ContractError(f"table {table}: missing columns {missing}, unexpected {extra}")
    schema = arrow_schema(table)
    try:
        arrow = pa.Table.from_pandas(frame[expected], schema=schema, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
        raise ContractError(f"table {table}: {exc}") from None
    for col in TABLES[table]:
        if not col.nullable and arrow.column(col.name).null_count:
            raise ContractError(f"table {table}: column {col.name} has nulls")
    return arrow


def _to_pandas(arrow: pa.Table) -> pd.DataFrame:
    """The table as pandas: dates as datetimes, list columns as Python lists (a null as [])
    taken straight from Arrow (converting them to numpy arrays first took twice as long)."""
    lists = [f.name for f in arrow.schema if pa.types.is_list(f.type)]
    frame = arrow.drop_columns(lists).to_pandas()
    for name in lists:
        values = arrow.column(name).to_pylist()
        frame[name] = pd.Series([[] if v is None else v for v in values], dtype=object)
    for field_ in arrow.schema:
        if pa.types.is_date32(field_.type):
            frame[field_.name] = pd.to_datetime(frame[field_.name])
    return frame[arrow.schema.names]


# ------------------------------------------------------------------------------------------
# The manifest: one typed record per run, validated on write and on read like the tables.


def _doc(text: str, **kwargs: Any) -> Any:
    """A dataclass field with its meaning (the README manifest table is checked against it)."""
    return field(metadata={"doc": text}, **kwargs)


@dataclass(frozen=True)
class InputFile:
    """One input file of a run."""

    path: str = _doc("path as given on the command line")
    sha256: str = _doc("sha256 of the file's bytes")
    n_bytes: int = _doc("size in bytes")


@dataclass(frozen=True)
class Counts:
    """What a run holds, counted once when it is written."""

    n_papers: int = _doc("papers in the run")
    n_rejected: int = _doc("input records dropped by ingest")
    n_warnings: int = _doc("input records kept with a warning")
    n_clusters: int = _doc("clusters, the unassigned group not counted")
    n_unassigned: int = _doc("papers in no cluster")
    n_themes: int = _doc("named or generated themes, 'other' not counted")


@dataclass(frozen=True)
class Addition:
    """What `pipeline add` added to its parent run (the manifest's `addition`)."""

    n_added: int = _doc("new papers added to the parent's")
    n_already_in_run: int = _doc("input papers already in the parent run (kept as they were)")
    n_unassigned: int = _doc("added papers that fit no cluster")
    unassigned_share: float = _doc("n_unassigned / n_added")
    rerun_share: float = _doc("the config's add.rerun_share when the run was added")
    is_rerun_recommended: bool = _doc("unassigned_share passed rerun_share: run the full pipeline")


@dataclass(frozen=True)
class Manifest:
    """`manifest.json`, written last: its presence marks a complete run."""

    run_id: str = _doc("folder name of the run")
    created_at: str = _doc("UTC ISO-8601 time the run was published")
    inputs: tuple[InputFile, ...] = _doc("every input file: path, sha256, n_bytes")
    config: dict[str, Any] = _doc("resolved pipeline config (every section, defaults filled in)")
    seed: int = _doc("random seed used by every stochastic stage")
    embedding_model: str = _doc("id of the embedding model")
    counts: Counts = _doc("n_papers, n_rejected, n_warnings, n_clusters, n_unassigned, n_themes")
    timings_s: dict[str, float] = _doc("seconds per stage")
    packages: dict[str, str] = _doc("versions of the packages that shaped the result")
    themes_file: InputFile | None = _doc("the themes file (path, sha256, n_bytes), or null")
    theme_method: str = _doc("how papers got their themes, in words")
    cluster_params: dict[str, Any] = _doc("clustering sizes actually used (derived from n)")
    embedding_cache: dict[str, int] = _doc("n_cached and n_embedded papers")
    theme_labels: dict[str, int] = _doc("labelled papers the theme stage used, per source")
    warnings: tuple[str, ...] = _doc("warnings of the clustering and theme stages")
    parent_run_id: str | None = _doc(
        "the run `pipeline add` extended, or null for a full run", default=None
    )
    addition: Addition | None = _doc(
        "for `pipeline add`: n_added, n_already_in_run, n_unassigned, unassigned_share, "
        "rerun_share, is_rerun_recommended; null for a full run",
        default=None,
    )
    schema_version: int = _doc(
        "integer; readers refuse a run written by another schema", default=SCHEMA_VERSION
    )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (tuples become lists)."""
        return json.loads(json.dumps(asdict(self), default=list))

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Manifest:
        """Validate plain data read from JSON; raise ContractError naming what is wrong."""
        if not isinstance(data, dict):
            raise ContractError(f"run {where}: manifest is not a JSON object")
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise IncompatibleRunError(
                f"run {where} was written with schema version {version}; this code reads version "
                f"{SCHEMA_VERSION}. Rebuild it with `python -m pipeline run`."
            )
        names = {f.name for f in fields(cls)}
        optional = {"schema_version", *OPTIONAL_MANIFEST_FIELDS}  # runs from before them
        missing = sorted(names - set(data) - optional)
        unknown = sorted(set(data) - names)
        if missing or unknown:
            raise ContractError(f"run {where}: manifest lacks {missing}, has unknown {unknown}")
        try:
            values = dict(data)
            values["inputs"] = tuple(InputFile(**item) for item in data["inputs"])
            values["counts"] = Counts(**data["counts"])
            if data["themes_file"] is not None:
                values["themes_file"] = InputFile(**data["themes_file"])
            values["warnings"] = tuple(str(w) for w in data["warnings"])
            if data.get("addition") is not None:
                values["addition"] = Addition(**data["addition"])
            manifest = cls(**values)
        except (TypeError, KeyError) as exc:
            raise ContractError(
                f"run {where}: manifest does not fit the contract ({exc})"
            ) from None
        manifest.check(where)
        return manifest

    def check(self, where: str) -> None:
        """Raise ContractError when a value has the wrong type."""
        expect = {
            "run_id": str,
            "created_at": str,
            "config": dict,
            "seed": int,
            "embedding_model": str,
            "timings_s": dict,
            "packages": dict,
            "theme_method": str,
            "cluster_params": dict,
            "embedding_cache": dict,
            "theme_labels": dict,
        }
        wrong = [k for k, t in expect.items() if not isinstance(getattr(self, k), t)]
        if self.parent_run_id is not None and not isinstance(self.parent_run_id, str):
            wrong.append("parent_run_id")
        if self.addition is not None and not isinstance(self.addition.is_rerun_recommended, bool):
            wrong.append("addition.is_rerun_recommended")
        wrong += [
            f"counts.{f.name}"
            for f in fields(Counts)
            if not isinstance(getattr(self.counts, f.name), int)
        ]
        if wrong:
            raise ContractError(f"run {where}: manifest has wrong types for {wrong}")


# Manifest fields added without a schema change: a run written before them reads as a full run.
OPTIONAL_MANIFEST_FIELDS = ("parent_run_id", "addition")


@dataclass(frozen=True)
class Run:
    """A run read back from disk: its manifest and every table as a DataFrame.

    Date columns come back as pandas datetime64 (NaT when unknown), list columns as Python lists.
    """

    run_id: str
    path: Path
    manifest: Manifest
    tables: dict[str, pd.DataFrame]

    @property
    def papers(self) -> pd.DataFrame:
        return self.tables["papers"]

    @property
    def assignments(self) -> pd.DataFrame:
        return self.tables["assignments"]

    @property
    def clusters(self) -> pd.DataFrame:
        return self.tables["clusters"]

    @property
    def themes(self) -> pd.DataFrame:
        return self.tables["themes"]

    @property
    def hierarchy(self) -> pd.DataFrame:
        return self.tables["hierarchy"]

    @property
    def rejections(self) -> pd.DataFrame:
        return self.tables["rejections"]

    @property
    def theme_labels(self) -> pd.DataFrame:
        return self.tables["theme_labels"]

    def embeddings(self, mmap: bool = True) -> np.ndarray:
        """The stored embeddings, rows in papers order (memory-mapped by default)."""
        return np.load(self.path / EMBEDDINGS, mmap_mode="r" if mmap else None)

    def theme_prior(self) -> np.ndarray:
        """Prior theme logits (n_papers, n_themes + 1), columns in themes order, "other" last."""
        return np.load(self.path / THEME_PRIOR)


@dataclass(frozen=True)
class RunEntry:
    """One folder of a runs folder as `list_runs` sees it, readable or not."""

    run_id: str
    manifest: Manifest | None  # None when the run cannot be opened
    problem: str = ""  # why it cannot be opened ("" when it can)

    @property
    def created_at(self) -> str:
        return self.manifest.created_at if self.manifest else ""


def write_run(
    runs_dir: str | Path,
    tables: dict[str, pd.DataFrame],
    embeddings: np.ndarray,
    manifest: Manifest,
    theme_prior: np.ndarray,
    write_model: Callable[[Path], None] | None = None,
) -> Path:
    """Validate and publish a run atomically; return its folder (named `manifest.run_id`).

    Everything is written into a hidden temporary folder next to the final one, the manifest
    last; the folder is renamed into place and only then is the `latest` pointer replaced. An
    interruption at any point leaves earlier runs and `latest` as they were.
    `write_model(folder)` may save the topic model into `folder/model`.
    """
    runs_dir = Path(runs_dir)
    run_id = check_run_id(manifest.run_id)
    manifest = Manifest.from_dict(manifest.to_dict(), run_id)  # the same check as on read
    if set(tables) != set(TABLES):
        raise ContractError(f"tables must be exactly {sorted(TABLES)}, got {sorted(tables)}")
    arrows = {name: validate_table(name, frame) for name, frame in tables.items()}
    n_papers = arrows["papers"].num_rows
    if embeddings.shape[0] != n_papers or arrows["assignments"].num_rows != n_papers:
        raise ContractError("papers, assignments and embeddings must have the same row count")
    if theme_prior.shape != (n_papers, arrows["themes"].num_rows):
        raise ContractError(
            f"theme prior must have shape (n_papers, n_themes incl. other) = "
            f"({n_papers}, {arrows['themes'].num_rows}), got {theme_prior.shape}"
        )
    if arrows["themes"].column("theme_id").to_pylist()[-1:] != [OTHER]:
        raise ContractError(f"themes must end with `{OTHER}`")
    if (
        arrows["papers"].column("paper_id").to_pylist()
        != arrows["assignments"].column("paper_id").to_pylist()
    ):
        raise ContractError("assignments must list the papers in papers order")

    runs_dir.mkdir(parents=True, exist_ok=True)
    final = runs_dir / run_id
    if final.exists():
        raise ContractError(f"run folder already exists: {final}")
    tmp = runs_dir / f".tmp-{run_id}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        for name, arrow in arrows.items():
            pq.write_table(arrow, tmp / f"{name}.parquet")
        np.save(tmp / EMBEDDINGS, np.ascontiguousarray(embeddings, dtype=np.float32))
        np.save(tmp / THEME_PRIOR, np.ascontiguousarray(theme_prior, dtype=np.float32))
        if write_model is not None:
            write_model(tmp / MODEL_DIR)
        _write_text_durably(tmp / MANIFEST, json.dumps(manifest.to_dict(), indent=2))
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _write_text_durably(runs_dir / LATEST, run_id + "\n")
    return final


def _write_text_durably(path: Path, text: str) -> None:
    """Write a small file via a temporary sibling and an atomic rename."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def check_run_id(run_id: str) -> str:
    """A run id names one folder inside the runs folder: no separators, no `..`, not hidden."""
    if (
        not isinstance(run_id, str)
        or not run_id
        or run_id.startswith(".")
        or any(c in run_id for c in "/\\\0")
    ):
        raise ContractError(f"not a valid run id: {run_id!r}")
    return run_id


def latest_run_id(runs_dir: str | Path) -> str | None:
    """The run id the `latest` pointer names, or None when there is no complete run."""
    pointer = Path(runs_dir) / LATEST
    try:
        run_id = check_run_id(pointer.read_text(encoding="utf-8").strip())
    except (OSError, UnicodeDecodeError, ContractError):
        return None
    return run_id if (Path(runs_dir) / run_id / MANIFEST).is_file() else None


def _read_manifest(folder: Path) -> Manifest:
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ContractError(f"run {folder.name} not found in {folder.parent}") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ContractError(f"run {folder.name}: manifest is not valid JSON ({exc})") from None
    return Manifest.from_dict(data, folder.name)


def list_runs(runs_dir: str | Path) -> list[RunEntry]:
    """Every complete run folder (one with a manifest), newest first.

    A run of another schema version or with a damaged manifest is listed with its `problem`
    and no manifest, after the readable ones.
    """
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    found = []
    for folder in runs_dir.iterdir():
        if folder.name.startswith(".") or not (folder / MANIFEST).is_file():
            continue
        try:
            found.append(RunEntry(folder.name, _read_manifest(folder)))
        except ContractError as exc:
            found.append(RunEntry(folder.name, None, str(exc)))
    readable = sorted(
        (e for e in found if e.manifest), key=lambda e: (e.created_at, e.run_id), reverse=True
    )
    return readable + sorted((e for e in found if not e.manifest), key=lambda e: e.run_id)


def read_run(runs_dir: str | Path, run_id: str | None = None) -> Run:
    """Read and validate one run (default: the latest).

    Raises ContractError when there is no run or it is damaged, IncompatibleRunError when it was
    written by another schema version.
    """
    runs_dir = Path(runs_dir)
    run_id = check_run_id(run_id) if run_id is not None else latest_run_id(runs_dir)
    if run_id is None:
        raise ContractError(f"no run found in {runs_dir}")
    folder = runs_dir / run_id
    manifest = _read_manifest(folder)
    tables = {}
    for name in TABLES:
        try:
            arrow = pq.read_table(folder / f"{name}.parquet")
        except (OSError, pa.ArrowInvalid) as exc:
            raise ContractError(f"run {run_id}: cannot read {name}.parquet ({exc})") from None
        expected = arrow_schema(name)
        if not arrow.schema.remove_metadata().equals(expected, check_metadata=False):
            try:
                arrow = arrow.select(expected.names).cast(expected)
            except (KeyError, pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise ContractError(
                    f"run {run_id}: {name}.parquet does not match schema ({exc})"
                ) from None
        tables[name] = _to_pandas(arrow)
    return Run(run_id=run_id, path=folder, manifest=manifest, tables=tables)
