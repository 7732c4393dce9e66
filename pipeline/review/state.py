"""The reviewed state of a run at one version: the store's log for the run replayed over the
run (`load_state`), as the pages show it and as every decision command checks against."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.contract import UNASSIGNED, Run
from pipeline.review.answers import AnswerSet, theme_answers
from pipeline.review.errors import ReviewError
from pipeline.review.replay import SkippedDecision, replay
from pipeline.review.store import ReviewStore
from pipeline.review.vocabulary import UNASSIGNED_KEY, log_frame


@dataclass(frozen=True)
class ReviewState:
    """A run's reviewed state at one version: what the UI shows and decides on."""

    run_id: str
    version: int
    tables: dict[str, pd.DataFrame]
    log: pd.DataFrame
    run_path: Path  # the run folder the state was derived from
    skipped: tuple[SkippedDecision, ...] = ()  # logged decisions replay could not apply
    answers: AnswerSet = AnswerSet(())  # theme answers of every run (applied by paper id)
    theme_probabilities: np.ndarray | None = None  # (n_papers, n_themes + 1), themes order

    @property
    def clusters(self) -> pd.DataFrame:
        return self.tables["clusters"]

    @property
    def assignments(self) -> pd.DataFrame:
        return self.tables["assignments"]

    def cluster(self, cluster_id: int) -> pd.Series:
        """One reviewed cluster's row; ReviewError when it does not exist (any more)."""
        match = self.clusters[self.clusters["cluster_id"] == int(cluster_id)]
        if match.empty:
            raise ReviewError(f"cluster {cluster_id} does not exist in the reviewed state")
        return match.iloc[0]

    def paper_ids(self, cluster_id: int) -> list[str]:
        """Member paper ids of a reviewed cluster, in papers order."""
        a = self.assignments
        return a.loc[a["cluster_id"] == int(cluster_id), "paper_id"].tolist()

    def cluster_target(self, cluster_id: int) -> dict[str, Any]:
        """What a decision about a cluster records: its key, id, label and member paper ids."""
        row = self.cluster(cluster_id)
        return {
            "cluster_key": row["cluster_key"],
            "cluster_id": int(row["cluster_id"]),
            "label": row["label"],
            "paper_ids": self.paper_ids(cluster_id),
        }

    def move_destination(self, cluster_id: int) -> dict[str, Any]:
        """Where a move sends papers (key, id, label): a cluster, or with UNASSIGNED (-1) the
        unassigned papers."""
        if int(cluster_id) == UNASSIGNED:
            return {"cluster_key": UNASSIGNED_KEY, "cluster_id": UNASSIGNED, "label": "unassigned"}
        row = self.cluster(cluster_id)
        return {
            "cluster_key": row["cluster_key"],
            "cluster_id": int(row["cluster_id"]),
            "label": row["label"],
        }

    def paper_places(self, paper_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Each paper's cluster key and id now (what a move records as `before`)."""
        a = self.assignments.set_index("paper_id")
        return {
            p: {"cluster_key": a.at[p, "cluster_key"], "cluster_id": int(a.at[p, "cluster_id"])}
            for p in paper_ids
        }


def unreviewed_state(run: Run) -> ReviewState:
    """The run as the pipeline wrote it, in reviewed form (version 0, no decision): what to show
    when the review store cannot be read."""
    result = replay(run, [])
    return ReviewState(
        run.run_id,
        0,
        result.tables,
        log_frame([]),
        run.path,
        theme_probabilities=result.theme_probabilities,
    )


def load_state(store: ReviewStore, run: Run, version: int | None = None) -> ReviewState:
    """Read the log and derive the run's reviewed state (at `version`, default the latest),
    with the theme answers of every run in the store applied by paper id. Decisions replay
    cannot apply are listed in `skipped`; StoreUnreadable when the store cannot be read."""
    decisions = store.decisions(run.run_id)
    if version is not None:
        decisions = [d for d in decisions if d.seq <= version]
    version = decisions[-1].seq if decisions else 0
    answers = theme_answers(store)
    result = replay(run, decisions, answers.labels)
    return ReviewState(
        run.run_id,
        version,
        result.tables,
        log_frame(decisions),
        run.path,
        result.skipped,
        answers,
        result.theme_probabilities,
    )
