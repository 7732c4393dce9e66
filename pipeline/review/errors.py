"""What can go wrong in review: the errors every module of the review package raises, so callers
catch one family (`ReviewError`) and a page can tell a stale state from a refused decision."""

from __future__ import annotations

from pathlib import Path


class ReviewError(ValueError):
    """A decision that cannot be made: unknown cluster, bad status, empty name, ..."""


class StaleStateError(ReviewError):
    """A decision made on a state that another reviewer has changed since; refresh and retry."""

    def __init__(self, run_id: str, base_version: int, current_version: int):
        self.run_id = run_id
        self.base_version = base_version
        self.current_version = current_version
        super().__init__(
            f"someone else changed the review of run {run_id} (you saw version {base_version}, "
            f"it is now {current_version}); your decision was not saved: refresh and try again"
        )


class InvalidDecision(ReviewError):
    """A decision whose target or payload does not fit its action's schema (never stored)."""


class UnknownRun(ReviewError):
    """A decision for a run that is not (or no longer) in the runs folder."""


class StoreUnreadable(ReviewError):
    """The review store file cannot be read: not a database, truncated, damaged (it fails its
    integrity check) or another program's database. The file is left untouched."""

    def __init__(self, path: Path, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"review log unreadable ({reason}): {path} was left untouched")


class StoreNotWritable(ReviewError):
    """Decisions cannot be saved to a store that can still be read: the file, its folder or the
    disk is read-only or full, or the store fails its integrity check."""

    def __init__(self, path: Path, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"decisions cannot be saved to {path}: {reason}")
