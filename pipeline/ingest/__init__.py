"""Ingest stage: reads paper listings in every supported format (files or folders), normalises
them into `Paper`s, deduplicates across all inputs and keeps every dropped record as a
`Rejection`. Entry point: `ingest(inputs, config) -> IngestResult`."""

from __future__ import annotations

import json
import os
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipeline.config import IngestConfig
from pipeline.ingest.arxiv import read_atom, read_oai
from pipeline.ingest.bibtex import read_bibtex
from pipeline.ingest.dedupe import dedupe
from pipeline.ingest.detect import EXTENSIONS, FORMATS, Unsupported, discover, sniff
from pipeline.ingest.hf_daily import read_hf_daily
from pipeline.ingest.listing import read_listing
from pipeline.ingest.normalise import RawRecord, to_paper
from pipeline.ingest.tables import read_csv, read_json, read_jsonl, read_parquet
from pipeline.records import Paper, Rejection

__all__ = [
    "FORMATS",
    "FileSummary",
    "IngestError",
    "IngestResult",
    "Merge",
    "ingest",
    "papers_frame",
    "rejections_frame",
    "merges_frame",
    "summary_table",
    "write_outputs",
]

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
    """A record folded into paper `paper_id` (its final id) as a duplicate."""

    paper_id: str
    source_file: str
    source_location: str
    matched_on: str  # 'arxiv' | 'doi' | 'title'


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


@dataclass
class ReadContext:
    """What a reader needs besides the path: the name used in reports and the config. Readers
    append any other file they read (a listing's sidecar) to `extra_files`."""

    source_file: str
    config: IngestConfig
    extra_files: list[Path] = field(default_factory=list)


Reader = Callable[[Path, ReadContext], Iterator[RawRecord | Rejection]]

READERS: dict[str, Reader] = {
    "listing": read_listing,
    "csv": lambda path, ctx: read_csv(path, ctx),  # comma, or semicolon when the header says so
    "tsv": lambda path, ctx: read_csv(path, ctx, delimiter="\t"),
    "json": read_json,
    "jsonl": read_jsonl,
    "parquet": read_parquet,
    "arxiv-atom": read_atom,
    "arxiv-oai": read_oai,
    "bibtex": read_bibtex,
    "hf-daily": read_hf_daily,
}


@dataclass
class _FileLog:
    source_file: str
    format: str
    n_read: int = 0
    n_rejected: int = 0
    n_warnings: int = 0


def ingest(inputs: Sequence[str | Path], config: IngestConfig = IngestConfig()) -> IngestResult:  # noqa: B008
    """Read every input (files, or folders walked recursively), normalise and deduplicate.

    Raises IngestError when no input file exists or no usable paper remains; any other bad
    input becomes a Rejection and the run continues.
    """
    paths = [Path(p) for p in inputs]
    forced = config.format != "auto"
    found, missing = discover(paths, forced)
    if not found:
        names = ", ".join(str(p) for p in paths) or "(none given)"
        raise IngestError(f"no input file found: {names}")

    rejections: list[Rejection] = []
    logs: list[_FileLog] = []
    input_files: list[Path] = []
    candidates: list[Paper] = []
    paper_log: list[_FileLog] = []
    sidecar = Path(config.sidecar).resolve() if config.sidecar else None

    for path in missing:
        log = _FileLog(str(path), "rejected", n_rejected=1)
        logs.append(log)
        rejections.append(Rejection(str(path), FILE, "file or folder not found", "rejected", ""))

    for item in found:
        path, source = item.path, str(item.path)
        if sidecar is not None and path.resolve() == sidecar:
            continue  # joined by the listing reader, not a table of papers
        if item.from_folder and not forced and path.suffix.lower() not in EXTENSIONS:
            logs.append(_FileLog(source, "skipped", n_warnings=1))
            rejections.append(
                Rejection(
                    source,
                    FILE,
                    f"skipped while walking a folder: extension "
                    f"{path.suffix or '(none)'} is not a supported format",
                    "warning",
                    "",
                )
            )
            continue
        try:
            fmt = sniff(path, config.format)
        except (Unsupported, OSError) as exc:
            logs.append(_FileLog(source, "rejected", n_rejected=1))
            rejections.append(Rejection(source, FILE, _one_line(exc), "rejected", ""))
            continue
        log = _FileLog(source, fmt)
        logs.append(log)
        ctx = ReadContext(source, config)
        input_files.append(path)
        for record in _limited(READERS[fmt](path, ctx), config.limit, log, rejections):
            if isinstance(record, Rejection):
                rejections.append(record)
                _count(log, record, logs)
                if record.severity == "rejected" and record.source_location != FILE:
                    log.n_read += 1  # a record the reader could not even parse
                continue
            log.n_read += 1
            paper, issues = to_paper(record, source, config)
            for issue in issues:
                rejections.append(issue)
                _count(log, issue, logs)
            if paper is not None:
                candidates.append(paper)
                paper_log.append(log)
        input_files.extend(p for p in ctx.extra_files if p not in input_files)

    papers, events, owner = dedupe(candidates)
    kept_count: Counter[int] = Counter()
    merged_count: Counter[int] = Counter()
    merged_ids = {id(e.merged) for e in events}
    for paper, log in zip(candidates, paper_log, strict=True):
        (merged_count if id(paper) in merged_ids else kept_count)[id(log)] += 1
    merges = tuple(
        Merge(papers[e.into].paper_id, e.merged.source_file, e.merged.source_location, e.matched_on)
        for e in events
    )
    files = tuple(
        FileSummary(
            log.source_file,
            log.format,
            log.n_read,
            kept_count[id(log)],
            merged_count[id(log)],
            log.n_rejected,
            log.n_warnings,
        )
        for log in logs
    )
    result = IngestResult(tuple(papers), tuple(rejections), files, merges, tuple(input_files))
    if not papers:
        rejected = [r.reason for r in rejections if r.severity == "rejected"]
        n_rejected = len(rejected)
        common = Counter(_reason_kind(reason) for reason in rejected)
        # quote one whole reason of the most common kind: the kind alone cuts off details and
        # hints that follow a colon ("no abstract column found (columns: ...); map one with ...")
        kind = common.most_common(1)[0][0] if common else None
        example = next((reason for reason in rejected if _reason_kind(reason) == kind), "")
        why = f" (most common: {example})" if common else ""
        raise IngestError(
            f"no usable paper in {len(logs)} input file(s): {n_rejected} rejection(s){why}",
            result,
        )
    return result


def _limited(records, limit: int, log: _FileLog, rejections: list[Rejection]):
    """Records from a reader, stopping after `limit` records (0 = all). A reader that fails
    part-way turns into a file-level rejection; what it yielded before is kept."""
    n_records = 0
    try:
        for record in records:
            if isinstance(record, RawRecord) or record.severity == "rejected":
                if limit and n_records >= limit:
                    break
                n_records += 1
            yield record
    except Unsupported as exc:
        yield Rejection(log.source_file, FILE, _one_line(exc), "rejected", "")
    finally:
        close = getattr(records, "close", None)
        if close:
            close()


def _count(log: _FileLog, rejection: Rejection, logs: list[_FileLog]) -> None:
    target = next((x for x in logs if x.source_file == rejection.source_file), log)
    if rejection.severity == "warning":
        target.n_warnings += 1
    else:
        target.n_rejected += 1


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _reason_kind(reason: str) -> str:
    return reason.split(":")[0]


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
    """One row per duplicate folded into another paper."""
    columns = ["paper_id", "source_file", "source_location", "matched_on"]
    return pd.DataFrame(
        [[m.paper_id, m.source_file, m.source_location, m.matched_on] for m in merges],
        columns=columns,
        dtype=object,
    )


def write_outputs(result: IngestResult, out_dir: str | Path) -> dict[str, Path]:
    """Write papers.parquet, rejections.parquet (contract schemas, validated) and merges.parquet
    into `out_dir`, each via a temporary file and an atomic rename."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline.contract import validate_table

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables = {
        "papers": validate_table("papers", papers_frame(result.papers)),
        "rejections": validate_table("rejections", rejections_frame(result.rejections)),
        "merges": pa.Table.from_pandas(
            merges_frame(result.merges),
            preserve_index=False,
            schema=pa.schema(
                [
                    (c, pa.string())
                    for c in ("paper_id", "source_file", "source_location", "matched_on")
                ]
            ),
        ),
    }
    written = {}
    for name, table in tables.items():
        final = out / f"{name}.parquet"
        tmp = out / f".{name}.{uuid.uuid4().hex[:8]}.parquet"
        pq.write_table(table, tmp)
        os.replace(tmp, final)
        written[name] = final
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
