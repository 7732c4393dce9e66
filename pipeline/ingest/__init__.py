"""Ingest stage: reads paper listings in every supported format (files or folders), normalises
them into `Paper`s, deduplicates across all inputs and keeps every dropped record as a
`Rejection`. Entry point: `ingest(inputs, config) -> IngestResult`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.config import IngestConfig
from pipeline.ingest.arxiv import read_atom, read_oai
from pipeline.ingest.bibtex import read_bibtex
from pipeline.ingest.dedupe import dedupe
from pipeline.ingest.detect import EXTENSIONS, discover, sniff
from pipeline.ingest.hf_daily import read_hf_daily
from pipeline.ingest.listing import read_listing
from pipeline.ingest.normalise import RawRecord, to_paper
from pipeline.ingest.outputs import (
    FILE,
    FileSummary,
    IngestError,
    IngestResult,
    Merge,
    check_out_dir,
    merges_frame,
    papers_frame,
    rejections_frame,
    summary_table,
    write_outputs,
)
from pipeline.ingest.rawtext import Unsupported, one_line
from pipeline.ingest.schema import FIELDS, FORMATS
from pipeline.ingest.tables import read_csv, read_json, read_jsonl, read_parquet
from pipeline.records import Paper, Rejection

__all__ = [
    "FIELDS",
    "FORMATS",
    "FileSummary",
    "IngestError",
    "IngestResult",
    "Merge",
    "check_out_dir",
    "ingest",
    "papers_frame",
    "rejections_frame",
    "merges_frame",
    "summary_table",
    "write_outputs",
]


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
            rejections.append(Rejection(source, FILE, one_line(exc), "rejected", ""))
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
            paper, issues = _normalised(record, source, config)
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
        Merge(
            papers[e.into].paper_id,
            e.merged.source_file,
            e.merged.source_location,
            e.matched_on,
            e.merged.paper_id,
            e.merged.arxiv_id,
            e.merged.doi,
        )
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


def _normalised(record: RawRecord, source: str, config: IngestConfig):
    """`to_paper`, with any failure it did not foresee turned into a rejection of this record:
    one odd record never stops the files around it."""
    try:
        return to_paper(record, source, config)
    except Exception as exc:  # noqa: BLE001 - the last guard; the reason names the error
        reason = f"record could not be normalised: {type(exc).__name__}: {one_line(exc)[:200]}"
        return None, [Rejection(source, record.location, reason, "rejected", "")]


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
    except (Unsupported, OSError) as exc:
        yield Rejection(log.source_file, FILE, one_line(exc), "rejected", "")
    except Exception as exc:  # noqa: BLE001 - the last guard: a reader bug costs one file
        reason = f"reader stopped after {n_records} record(s): {type(exc).__name__}: "
        yield Rejection(log.source_file, FILE, reason + one_line(exc)[:200], "rejected", "")
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


def _reason_kind(reason: str) -> str:
    return reason.split(":")[0]
