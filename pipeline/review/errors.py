"""What can go wrong in review: the errors every module of the review package raises, so callers
catch one family (`ReviewError`) and a page can tell a stale state from a refused decision."""

from __future__ import annotations


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
