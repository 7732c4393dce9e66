"""Machine-readable progress of a run (`pipeline run --progress-file`): the stage names in order
and `ProgressFile`, which appends one JSON line per stage and while embedding."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

STAGES = ("embed", "neighbours", "cluster", "layout", "themes", "derive", "write")


class ProgressFile:
    """Machine-readable progress for whoever started the run (the dashboard's New run page):
    JSON lines appended to `path`, each flushed at once, e.g. {"stage": "embed", "step": 2,
    "n_steps": 8, "n_papers": 75, "n_embedded": 40, "elapsed_s": 12.1, "eta_s": 41.0}.
    A line is written when a stage starts and, while embedding, at most every REFRESH_S; the
    last one has stage "done" (with run_id, n_rejected, n_warnings) or "failed" (with error).
    `eta_s` is rough: the embedding rate so far for the papers left, plus REST_S + REST_S_PER_PAPER
    per paper for the stages after it (2-core bench); null before there is a rate or once the
    estimate is used up."""

    REFRESH_S = 0.5
    REST_S, REST_S_PER_PAPER = 30.0, 0.003

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.started = time.monotonic()
        self.stage, self.n_papers, self.n_embedded = "ingest", 0, 0
        self.embed_started: float | None = None
        self.embed_ended: float | None = None
        self.written = 0.0
        self.write()

    def eta(self) -> float | None:
        """Seconds left, roughly; None when unknown."""
        now, rest = time.monotonic(), self.REST_S + self.REST_S_PER_PAPER * self.n_papers
        if self.embed_ended is not None:
            left = rest - (now - self.embed_ended)
            return round(left, 1) if left > 0 else None
        if self.embed_started is None or not self.n_embedded:
            return None
        rate = self.n_embedded / max(now - self.embed_started, 1e-3)
        return round((self.n_papers - self.n_embedded) / rate + rest, 1)

    def write(self, **extra: Any) -> None:
        steps = ("ingest", *STAGES)  # "step" of "n_steps": for a progress bar
        line = {
            "stage": self.stage,
            "step": steps.index(self.stage) + 1 if self.stage in steps else len(steps),
            "n_steps": len(steps),
            "n_papers": self.n_papers,
            "n_embedded": self.n_embedded,
            "elapsed_s": round(time.monotonic() - self.started, 1),
            "eta_s": self.eta(),
            **extra,
        }
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")
        self.written = time.monotonic()

    def begin(self, stage: str) -> None:
        if self.stage == "embed" and stage != "embed":
            self.embed_ended = time.monotonic()
        if stage == "embed":
            self.embed_started = time.monotonic()
        self.stage = stage
        self.write()

    def embedded(self, n: int) -> None:
        self.n_embedded += n
        if time.monotonic() - self.written >= self.REFRESH_S or self.n_embedded >= self.n_papers:
            self.write()

    def done(self, summary: Any) -> None:
        """The last line of a run that ended well (`summary`: a `pipeline.run.RunSummary`)."""
        self.stage = "done"
        self.write(
            run_id=summary.run_id, n_rejected=summary.n_rejected, n_warnings=summary.n_warnings
        )

    def failed(self, error: str) -> None:
        self.stage = "failed"
        self.write(error=error)
