"""Typed records that flow between pipeline stages: `Paper` (a kept paper) and `Rejection`
(a dropped input record with its file, location and reason)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

DatePrecision = Literal["day", "month", "year"]


@dataclass(frozen=True)
class Paper:
    """One paper after normalisation.

    `paper_id` is stable across runs and inputs: `arxiv:<id without version>`, else
    `doi:<lower-cased doi>`, else `title:<sha1 of the normalised title, 16 hex chars>`.
    `published` is an ISO date string (`YYYY-MM-DD`, padded with `-01` when only the month or
    year is known) whose real precision is `date_precision`; both are None when unknown.
    `source_location` is `line N` or `record N` (1-based) inside `source_file`.
    """

    paper_id: str
    title: str
    abstract: str
    published: str | None = None
    date_precision: DatePrecision | None = None
    authors: tuple[str, ...] = ()
    url: str | None = None
    categories: tuple[str, ...] = ()
    arxiv_id: str | None = None
    doi: str | None = None
    source_file: str = ""
    source_location: str = ""
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Rejection:
    """An input record that did not become a paper, or a warning about one that did.

    `severity` is "rejected" (record dropped) or "warning" (record kept, something was fixed,
    e.g. an unparsable date set to null). `raw` holds a short excerpt of the offending input.
    """

    source_file: str
    source_location: str
    reason: str
    severity: Literal["rejected", "warning"] = "rejected"
    raw: str = ""
