"""Deduplication across every input: papers sharing an arXiv id, a DOI or a normalised title
become one, with their fields merged. Reads `Paper`s in input order; produces the merged papers
and one `MergeEvent` per record folded into an earlier one."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from pipeline.ingest.ids import make_paper_id
from pipeline.ingest.text import title_key
from pipeline.records import Paper

_PRECISION_RANK = {"day": 0, "month": 1, "year": 2, None: 3}


@dataclass(frozen=True)
class MergeEvent:
    """Record `merged` (by position in the input list) was folded into paper `into`."""

    into: int
    merged: Paper
    matched_on: str  # 'arxiv' | 'doi' | 'title'


def _period_end(published: str, precision: str) -> dt.date:
    start = dt.date.fromisoformat(published)
    if precision == "year":
        return dt.date(start.year, 12, 31)
    if precision == "month":
        next_month = dt.date(start.year + start.month // 12, start.month % 12 + 1, 1)
        return next_month - dt.timedelta(days=1)
    return start


def earlier_date(a: Paper, b: Paper) -> tuple[str | None, str | None]:
    """The earliest of two dates with its precision. A coarser date whose period contains the
    finer one (2023 vs 2023-11-01) does not win: it is the same date, less precisely known."""
    if not a.published:
        return b.published, b.date_precision
    if not b.published:
        return a.published, a.date_precision
    fine, coarse = sorted((a, b), key=lambda p: _PRECISION_RANK[p.date_precision])
    if fine.date_precision != coarse.date_precision and coarse.published <= fine.published <= (
        _period_end(coarse.published, coarse.date_precision).isoformat()
    ):
        return fine.published, fine.date_precision
    first = min((a, b), key=lambda p: (p.published, _PRECISION_RANK[p.date_precision]))
    return first.published, first.date_precision


def same_version(a: Paper, b: Paper) -> bool:
    """False when two records of one paper are visibly different versions: their arXiv ids or
    their years differ (a conference paper and its journal version share a title)."""
    if a.arxiv_id and b.arxiv_id and a.arxiv_id != b.arxiv_id:
        return False
    return not (a.published and b.published and a.published[:4] != b.published[:4])


def merge_pair(kept: Paper, other: Paper) -> Paper:
    """`kept` with empty fields filled from `other` and the earliest date; `kept` keeps its
    source file and location. A DOI names one version, so it is taken only from a record of the
    same version. `paper_id` is recomputed, as an arXiv id or DOI may have been gained."""
    published, precision = earlier_date(kept, other)
    arxiv_id = kept.arxiv_id or other.arxiv_id
    doi = kept.doi or (other.doi if same_version(kept, other) else None)
    title = kept.title or other.title
    extra = {**other.extra, **kept.extra}
    return dataclasses.replace(
        kept,
        paper_id=make_paper_id(arxiv_id, doi, title),
        title=title,
        abstract=kept.abstract or other.abstract,
        published=published,
        date_precision=precision,
        authors=kept.authors or other.authors,
        url=kept.url or other.url,
        categories=kept.categories or other.categories,
        arxiv_id=arxiv_id,
        doi=doi,
        extra=extra,
    )


def dedupe(papers: list[Paper]) -> tuple[list[Paper], list[MergeEvent], list[int]]:
    """Merged papers in first-seen order, the merge events, and for every input paper the index
    of the merged paper it ended in.

    Matching is tried on arXiv id, then DOI, then normalised title. Two records whose arXiv ids
    differ are never merged, even with equal titles: distinct papers can share a title.
    """
    kept: list[Paper] = []
    events: list[MergeEvent] = []
    owner: list[int] = []
    index: dict[tuple[str, str], int] = {}

    def keys(paper: Paper) -> list[tuple[str, str]]:
        found = []
        if paper.arxiv_id:
            found.append(("arxiv", paper.arxiv_id))
        if paper.doi:
            found.append(("doi", paper.doi))
        key = title_key(paper.title)
        if key:
            found.append(("title", key))
        return found

    for paper in papers:
        target = None
        matched_on = ""
        for key in keys(paper):
            position = index.get(key)
            if position is None:
                continue
            candidate = kept[position]
            if candidate.arxiv_id and paper.arxiv_id and candidate.arxiv_id != paper.arxiv_id:
                continue
            target, matched_on = position, key[0]
            break
        if target is None:
            kept.append(paper)
            target = len(kept) - 1
        else:
            kept[target] = merge_pair(kept[target], paper)
            events.append(MergeEvent(target, paper, matched_on))
        owner.append(target)
        for key in keys(kept[target]):
            index.setdefault(key, target)
    return kept, events, owner
