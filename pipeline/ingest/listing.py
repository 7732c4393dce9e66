"""Reader for listing-page text dumps (a few header lines, then title / blank line / abstract
paragraph / blank line, repeated), joined by normalised title with an optional metadata sidecar
CSV that adds arXiv id, date, category and author. Produces `RawRecord`s."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from pipeline.ingest.detect import listing_sidecar
from pipeline.ingest.normalise import RawRecord
from pipeline.ingest.rawtext import Unsupported, excerpt, read_text
from pipeline.ingest.tables import read_csv
from pipeline.ingest.text import title_key, word_count
from pipeline.records import Rejection


@dataclass(frozen=True)
class Block:
    """One paragraph: its text (lines joined by spaces) and the line it starts on."""

    text: str
    line: int


def paragraphs(text: str) -> list[Block]:
    """Blank-line separated paragraphs with their 1-based first line."""
    blocks: list[Block] = []
    lines: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            if not lines:
                start = number
            lines.append(line.strip())
        elif lines:
            blocks.append(Block(" ".join(lines), start))
            lines = []
    if lines:
        blocks.append(Block(" ".join(lines), start))
    return blocks


def pair_blocks(
    blocks: list[Block], min_words: int
) -> tuple[list[Block], list[tuple[Block, Block | None]]]:
    """Split paragraphs into the header and (title, abstract) pairs.

    The header is everything before the first title whose abstract has at least `min_words`
    words. After it titles and abstracts strictly alternate. One exception keeps a missing
    abstract from shifting every later pair: when the paragraph after a title is short and the
    one after it is long, the title is paired with None (no abstract) and the short paragraph is
    the next title. A short abstract otherwise stays paired, so it is rejected, never skipped.
    """

    def is_long(i: int) -> bool:
        return i < len(blocks) and word_count(blocks[i].text) >= min_words

    first = next((i for i in range(1, len(blocks)) if is_long(i) and not is_long(i - 1)), None)
    if first is None:
        return blocks, []
    header, pairs = blocks[: first - 1], []
    i = first - 1
    while i < len(blocks):
        title = blocks[i]
        if i + 1 >= len(blocks):
            pairs.append((title, None))
            break
        if not is_long(i + 1) and is_long(i + 2) and not is_long(i):
            pairs.append((title, None))
            i += 1
            continue
        pairs.append((title, blocks[i + 1]))
        i += 2
    return header, pairs


def read_listing(path: Path, ctx) -> Iterator[RawRecord | Rejection]:
    """Papers from a listing-page dump, enriched from its sidecar when there is one."""
    text, issue = read_text(path)
    if issue:
        yield Rejection(ctx.source_file, f"line {issue.first_line}", issue.reason(), "warning", "")
    blocks = paragraphs(text)
    min_words = ctx.config.min_abstract_words
    _header, pairs = pair_blocks(blocks, min_words)
    if not pairs:
        raise Unsupported(
            "no title/abstract pair found (a listing needs a title line, a blank line and an "
            f"abstract of at least {min_words} words)"
        )
    sidecar_path = Path(ctx.config.sidecar) if ctx.config.sidecar else listing_sidecar(path)
    meta: dict[str, RawRecord] = {}
    if sidecar_path.is_file():
        ctx.extra_files.append(sidecar_path)
        meta, issues = read_sidecar(sidecar_path, ctx)
        yield from issues
    elif ctx.config.sidecar:
        yield Rejection(ctx.source_file, "file", f"sidecar {sidecar_path} not found", "warning", "")
    matched: set[str] = set()
    for title, abstract in pairs:
        location = f"line {title.line}"
        if abstract is None:
            yield Rejection(
                ctx.source_file,
                location,
                "missing abstract (title with no paragraph after it)",
                "rejected",
                excerpt(title.text),
            )
            continue
        record = RawRecord(location=location, title=title.text, abstract=abstract.text)
        if meta:
            key = title_key(title.text)
            row = meta.get(key)
            if row is None:
                yield Rejection(
                    ctx.source_file,
                    location,
                    f"title not found in sidecar {sidecar_path.name}",
                    "warning",
                    excerpt(title.text),
                )
            else:
                matched.add(key)
                record.published = row.published
                record.arxiv_id = row.arxiv_id
                record.doi = row.doi
                record.id = row.id
                record.url = row.url
                record.authors = row.authors
                record.categories = row.categories
                record.extra = dict(row.extra)
        yield record
    for key, row in meta.items():
        if key not in matched:
            yield Rejection(
                str(sidecar_path),
                row.location,
                f"sidecar row matches no title in {path.name}",
                "warning",
                excerpt(row.title),
            )


def read_sidecar(path: Path, ctx) -> tuple[dict[str, RawRecord], list[Rejection]]:
    """Sidecar rows keyed by normalised title. The sidecar has no abstracts, so a placeholder
    abstract column is tolerated: only the title column is required."""
    side_ctx = replace_ctx(ctx, str(path))
    rows: dict[str, RawRecord] = {}
    issues: list[Rejection] = []
    try:
        items = list(
            read_csv(path, side_ctx, mapping={}, required=("title",), report_missing=False)
        )
    except Unsupported as exc:
        return {}, [Rejection(str(path), "file", f"sidecar not read: {exc}", "warning", "")]
    for item in items:
        if isinstance(item, Rejection):
            issues.append(replace(item, severity="warning"))
            continue
        key = title_key(str(item.title or ""))
        if key:
            rows.setdefault(key, item)
    return rows, issues


def replace_ctx(ctx, source_file: str):
    return replace(ctx, source_file=source_file)
