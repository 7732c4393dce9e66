"""What the ingest stage hands back and writes: the result types, the per-file summary table,
and papers.parquet / rejections.parquet / merges.parquet in an output folder that is checked
before any input is read."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.records import Paper, Rejection

FILE = "file"  # source_location of a rejection that concerns a whole file


@dataclass(frozen=True)
class FileSummary:
    """What happened to one input file. `n_read` counts records found (kept + merged +
    rejected, for record-level rejections); a whole-file rejection has n_read 0, n_rejected 1.
    `format` is the reader used, `rejected` when no reader could take the file, or `skipped`
    for a file with an unsupported extension met while walking a folder."""

    source_file: str
    format: str
    n_read: int
    n_kept: int
    n_merged: int
    n_rejected: int
    n_warnings: int


@dataclass(frozen=True)
class Merge:
    """A record folded into paper `paper_id` (its final id) as a duplicate. The duplicate's own
    ids are kept: a record merged by title may be another version (a conference paper and its
    journal version) whose DOI the paper did not take."""

    paper_id: str
    source_file: str
    source_location: str
    matched_on: str  # 'arxiv' | 'doi' | 'title'
    duplicate_paper_id: str = ""
    duplicate_arxiv_id: str | None = None
    duplicate_doi: str | None = None


MERGE_COLUMNS = (
    "paper_id",
    "source_file",
    "source_location",
    "matched_on",
    "duplicate_paper_id",
    "duplicate_arxiv_id",
    "duplicate_doi",
)
OUTPUT_NAMES = ("papers", "rejections", "merges")


@dataclass(frozen=True)
class IngestResult:
    """The deduplicated corpus, every rejection and warning, and per-file accounting."""

    papers: tuple[Paper, ...]
    rejections: tuple[Rejection, ...]  # severity 'rejected' (dropped) or 'warning' (kept, fixed)
    files: tuple[FileSummary, ...]
    merges: tuple[Merge, ...]
    input_files: tuple[Path, ...]  # every file a reader actually read, sidecars included


class IngestError(Exception):
    """No input file found, or no usable paper remains. The message is one line; `result`
    holds what was read (None when no file was found)."""

    def __init__(self, message: str, result: IngestResult | None = None):
        super().__init__(message)
        self.result = result


# ---------------------------------------------------------------------------------------------
# Frames and output files


def papers_frame(papers: Sequence[Paper]) -> pd.DataFrame:
    """Papers as a DataFrame with exactly the columns of contract.TABLES["papers"]: published
    as datetime.date (None when unknown), lists as Python lists, extra as a JSON string."""
    import datetime as dt

    rows = [
        {
            "paper_id": p.paper_id,
            "title": p.title,
            "abstract": p.abstract,
            "published": dt.date.fromisoformat(p.published) if p.published else None,
            "date_precision": p.date_precision,
            "authors": list(p.authors),
            "url": p.url,
            "categories": list(p.categories),
            "arxiv_id": p.arxiv_id,
            "doi": p.doi,
            "source_file": p.source_file,
            "source_location": p.source_location,
            "extra": json.dumps(p.extra, ensure_ascii=False, sort_keys=True, default=str),
        }
        for p in papers
    ]
    from pipeline.contract import TABLES

    columns = [c.name for c in TABLES["papers"]]
    return pd.DataFrame(rows, columns=columns).astype({"published": object})


def rejections_frame(rejections: Sequence[Rejection]) -> pd.DataFrame:
    """Rejections and warnings with exactly the columns of contract.TABLES["rejections"]."""
    from pipeline.contract import TABLES

    columns = [c.name for c in TABLES["rejections"]]
    rows = [
        {
            "source_file": r.source_file,
            "source_location": r.source_location,
            "reason": r.reason,
            "severity": r.severity,
            "raw": r.raw,
        }
        for r in rejections
    ]
    return (
        pd.DataFrame(rows, columns=columns).astype(str)
        if rows
        else pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    )


def merges_frame(merges: Sequence[Merge]) -> pd.DataFrame:
    """One row per duplicate folded into another paper, with the duplicate's own ids."""
    return pd.DataFrame(
        [[getattr(m, name) for name in MERGE_COLUMNS] for m in merges],
        columns=list(MERGE_COLUMNS),
        dtype=object,
    )


def check_out_dir(out_dir: str | Path) -> Path:
    """Create the output folder and prove it can be written, before any slow work; raises
    IngestError with one line naming the folder and the reason (a file in the way, a missing or
    read-only location, a full disk)."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".probe-{uuid.uuid4().hex[:8]}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        raise IngestError(f"cannot write to output folder {out}: {exc.strerror or exc}") from None
    return out


def write_outputs(result: IngestResult, out_dir: str | Path) -> dict[str, Path]:
    """Write papers.parquet, rejections.parquet (contract schemas, validated) and merges.parquet
    into `out_dir`, each via a temporary file and an atomic rename.

    With no paper (an ingest that failed) only rejections.parquet is written, and papers and
    merges files left by an earlier ingest into the same folder are removed, so they are never
    taken for this result. Raises IngestError when a file cannot be written.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline.contract import validate_table

    out = check_out_dir(out_dir)
    tables = {"rejections": validate_table("rejections", rejections_frame(result.rejections))}
    if result.papers:
        tables["papers"] = validate_table("papers", papers_frame(result.papers))
        tables["merges"] = pa.Table.from_pandas(
            merges_frame(result.merges),
            preserve_index=False,
            schema=pa.schema([(c, pa.string()) for c in MERGE_COLUMNS]),
        )
    written = {}
    try:
        for name in OUTPUT_NAMES:
            final = out / f"{name}.parquet"
            if name not in tables:
                final.unlink(missing_ok=True)
                continue
            tmp = out / f".{name}.{uuid.uuid4().hex[:8]}.parquet"
            try:
                pq.write_table(tables[name], tmp)
                os.replace(tmp, final)
            finally:
                tmp.unlink(missing_ok=True)
            written[name] = final
    except OSError as exc:
        raise IngestError(f"cannot write to output folder {out}: {exc.strerror or exc}") from None
    return written


def summary_table(result: IngestResult) -> str:
    """The per-file summary printed by `python -m pipeline ingest`, with a total row."""
    header = ("file", "format", "read", "kept", "merged", "rejected", "warnings")
    rows = [
        (f.source_file, f.format, f.n_read, f.n_kept, f.n_merged, f.n_rejected, f.n_warnings)
        for f in result.files
    ]
    totals = ("total", "", *(sum(r[i] for r in rows) for i in range(2, 7)))
    cells = [tuple(str(c) for c in row) for row in [header, *rows, totals]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def fmt(row: tuple[str, ...]) -> str:
        left = [row[i].ljust(widths[i]) for i in range(2)]
        right = [row[i].rjust(widths[i]) for i in range(2, len(row))]
        return "  ".join(left + right).rstrip()

    rule = "  ".join("-" * w for w in widths)
    lines = [fmt(cells[0]), rule, *(fmt(r) for r in cells[1:-1]), rule, fmt(cells[-1])]
    return "\n".join(lines)
