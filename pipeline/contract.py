"""The on-disk contract between the pipeline and the dashboard: run-folder layout, table
schemas, `SCHEMA_VERSION`, the manifest, and validated atomic write / validated read.

This module imports only the standard library, numpy, pandas and pyarrow, so the dashboard can
use it without pulling in torch, UMAP or BERTopic.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
LATEST = "latest"  # a text file in the runs folder holding the newest complete run id
EMBEDDINGS = "embeddings.npy"  # float32, shape (n_papers, dim), rows in papers.parquet order
MODEL_DIR = "model"  # BERTopic.save(..., serialization="safetensors")

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
        Column("theme_score", pa.float64(), "score of the paper for its theme (higher = surer)"),
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
    "cluster_themes": (
        Column("cluster_id", pa.int64(), "cluster id"),
        Column("theme_id", _STR, "theme slug, or 'other'"),
        Column("n_papers", pa.int64(), "papers of this cluster in this theme"),
        Column("share", pa.float64(), "n_papers / cluster size"),
    ),
    "themes": (
        Column("theme_id", _STR, "slug, unique; 'other' for papers that fit no theme"),
        Column("name", _STR, "display name"),
        Column("description", _STR, "one-sentence description"),
        Column("key_terms", _LIST_STR, "optional key terms from the themes file"),
        Column("n_papers", pa.int64(), "papers assigned to the theme"),
        Column("n_clusters", pa.int64(), "clusters whose dominant theme it is"),
        Column("is_generated", pa.bool_(), "true when derived from the hierarchy (no themes file)"),
    ),
    "theme_timeline": (
        Column("period_kind", _STR, "month, quarter or year"),
        Column("period", _STR, "period label: 2024-03, 2024-Q1 or 2024"),
        Column("period_start", pa.date32(), "first day of the period"),
        Column("theme_id", _STR, "theme slug"),
        Column("n_papers", pa.int64(), "papers of the theme published in the period"),
        Column("share", pa.float64(), "n_papers / all dated papers in the period"),
    ),
    "cluster_timeline": (
        Column("period_kind", _STR, "month, quarter or year"),
        Column("period", _STR, "period label: 2024-03, 2024-Q1 or 2024"),
        Column("period_start", pa.date32(), "first day of the period"),
        Column("cluster_id", pa.int64(), "cluster id"),
        Column("n_papers", pa.int64(), "papers of the cluster published in the period"),
        Column("share", pa.float64(), "n_papers / all dated papers in the period"),
    ),
    "hierarchy": (
        Column("parent_id", pa.int64(), "merged node id (ids above the leaf cluster ids)"),
        Column("parent_name", _STR, "keywords of the merged node"),
        Column("child_left_id", pa.int64(), "left child: a cluster id or another parent_id"),
        Column("child_right_id", pa.int64(), "right child: a cluster id or another parent_id"),
        Column("distance", pa.float64(), "linkage distance of the merge"),
        Column("cluster_ids", pa.list_(pa.int64()), "leaf clusters under the node"),
    ),
    "rejections": (
        Column("source_file", _STR, "input file"),
        Column("source_location", _STR, "line N or record N, or 'file'"),
        Column("reason", _STR, "why the record was dropped or what was fixed"),
        Column("severity", _STR, "rejected (dropped) or warning (kept, fixed)"),
        Column("raw", _STR, "short excerpt of the offending input"),
    ),
}

# Manifest keys (all required). The README documents each one.
MANIFEST_KEYS: dict[str, str] = {
    "schema_version": "integer; readers refuse a run written by a newer schema",
    "run_id": "folder name of the run",
    "created_at": "UTC ISO-8601 time the run was published",
    "inputs": "list of {path, sha256, n_bytes} for every input file",
    "config": "resolved pipeline config (every section, defaults filled in)",
    "seed": "random seed used by every stochastic stage",
    "embedding_model": "id of the embedding model",
    "counts": "n_papers, n_rejected, n_warnings, n_clusters, n_unassigned, n_themes",
    "timings_s": "seconds per stage",
    "packages": "versions of the packages that shaped the result",
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
    frame = arrow.to_pandas()
    for field_ in arrow.schema:
        if pa.types.is_date32(field_.type):
            frame[field_.name] = pd.to_datetime(frame[field_.name])
        elif pa.types.is_list(field_.type):
            frame[field_.name] = frame[field_.name].map(lambda v: [] if v is None else list(v))
    return frame


@dataclass(frozen=True)
class Run:
    """A run read back from disk: its manifest and every table as a DataFrame.

    Date columns come back as pandas datetime64 (NaT when unknown), list columns as Python lists.
    """

    run_id: str
    path: Path
    manifest: dict[str, Any]
    tables: dict[str, pd.DataFrame]

    def __getattr__(self, name: str) -> pd.DataFrame:
        tables = object.__getattribute__(self, "tables")
        if name in tables:
            return tables[name]
        raise AttributeError(name)

    def embeddings(self, mmap: bool = True) -> np.ndarray:
        """The stored embeddings, rows in papers order (memory-mapped by default)."""
        return np.load(self.path / EMBEDDINGS, mmap_mode="r" if mmap else None)


def _check_manifest(manifest: dict[str, Any], where: str) -> None:
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise IncompatibleRunError(
            f"run {where} was written with schema version {version}; this code reads version "
            f"{SCHEMA_VERSION}. Rebuild it with `python -m pipeline run`."
        )
    missing = [k for k in MANIFEST_KEYS if k not in manifest]
    if missing:
        raise ContractError(f"run {where}: manifest lacks {missing}")


def write_run(
    runs_dir: str | Path,
    run_id: str,
    tables: dict[str, pd.DataFrame],
    embeddings: np.ndarray,
    manifest: dict[str, Any],
    write_model: Callable[[Path], None] | None = None,
) -> Path:
    """Validate and publish a run atomically; return its folder.

    Everything is written into a hidden temporary folder next to the final one, the manifest
    last; the folder is renamed into place and only then is the `latest` pointer replaced. An
    interruption at any point leaves earlier runs and `latest` as they were.
    `write_model(folder)` may save the topic model into `folder/model`.
    """
    runs_dir = Path(runs_dir)
    manifest = {**manifest, "schema_version": SCHEMA_VERSION, "run_id": run_id}
    _check_manifest(manifest, run_id)
    if set(tables) != set(TABLES):
        raise ContractError(f"tables must be exactly {sorted(TABLES)}, got {sorted(tables)}")
    arrows = {name: validate_table(name, frame) for name, frame in tables.items()}
    n_papers = arrows["papers"].num_rows
    if embeddings.shape[0] != n_papers or arrows["assignments"].num_rows != n_papers:
        raise ContractError("papers, assignments and embeddings must have the same row count")
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
        if write_model is not None:
            write_model(tmp / MODEL_DIR)
        _write_text_durably(tmp / MANIFEST, json.dumps(manifest, indent=2, default=str))
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


def latest_run_id(runs_dir: str | Path) -> str | None:
    """The run id the `latest` pointer names, or None when there is no complete run."""
    pointer = Path(runs_dir) / LATEST
    if not pointer.is_file():
        return None
    run_id = pointer.read_text(encoding="utf-8").strip()
    return run_id if (Path(runs_dir) / run_id / MANIFEST).is_file() else None


def list_runs(runs_dir: str | Path) -> list[dict[str, Any]]:
    """Manifests of every complete run (folders with a manifest), newest first.

    Runs of another schema version are listed too, with `compatible: False`.
    """
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    found = []
    for folder in runs_dir.iterdir():
        manifest_path = folder / MANIFEST
        if folder.name.startswith(".") or not manifest_path.is_file():
            continue
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        manifest["compatible"] = manifest.get("schema_version") == SCHEMA_VERSION
        found.append(manifest)
    return sorted(
        found, key=lambda m: (str(m.get("created_at", "")), m.get("run_id", "")), reverse=True
    )


def read_run(runs_dir: str | Path, run_id: str | None = None) -> Run:
    """Read and validate one run (default: the latest).

    Raises ContractError when there is no run or it is damaged, IncompatibleRunError when it was
    written by another schema version.
    """
    runs_dir = Path(runs_dir)
    run_id = run_id or latest_run_id(runs_dir)
    if run_id is None:
        raise ContractError(f"no run found in {runs_dir}")
    folder = runs_dir / run_id
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ContractError(f"run {run_id} not found in {runs_dir}") from None
    except json.JSONDecodeError as exc:
        raise ContractError(f"run {run_id}: manifest is not valid JSON ({exc})") from None
    _check_manifest(manifest, run_id)
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
