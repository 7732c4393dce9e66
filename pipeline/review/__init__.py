"""Cluster review: an append-only SQLite decision log per run (kept outside the run folders), the
reviewed state derived by replaying that log over a run, the decision commands, split previews,
and carry-over of a previous run's review to a new run.

One module per job: `errors`, `vocabulary` (actions, statuses, `Decision`, schemas, `describe`,
the log frame), `store` (the SQLite log), `replay` (run + log -> reviewed tables), `state`
(`ReviewState`, `load_state`), `actions` (rename, theme, status, note, merge, move, theme
answers, undo), `answers` (theme answers of every run, by paper id),
`split` (KMeans preview, accept), `carry_over` (to a re-run, by paper overlap) and `inherit`
(to a run made by `pipeline add`, decision for decision).
The package imports only the standard library, numpy, pandas, scikit-learn, `pipeline.contract`,
`pipeline.derive`, `pipeline.config` and `pipeline.themes` (numpy only), so the dashboard can use
it without torch, UMAP or BERTopic.
"""

from pipeline.review.actions import (
    add_note,
    answer_theme,
    merge,
    move,
    rename,
    set_status,
    set_theme,
    undo,
)
from pipeline.review.answers import Answer, AnswerSet, theme_accuracy, theme_answers
from pipeline.review.carry_over import (
    CARRY_OVER_REVIEWER,
    CLEAR_JACCARD,
    UNCLEAR_OVERLAP,
    CarryOverReport,
    ClusterMatch,
    carry_over,
    carry_over_runs,
)
from pipeline.review.errors import (
    InvalidDecision,
    ReviewError,
    StaleStateError,
    StoreNotWritable,
    StoreUnreadable,
    UnknownRun,
)
from pipeline.review.inherit import InheritReport, inherit_review, inherit_review_runs
from pipeline.review.replay import (
    REVIEW_COLUMNS,
    ReplayResult,
    SkippedDecision,
    merged_status,
    replay,
    reviewed_tables,
)
from pipeline.review.split import SplitPreview, accept_split, preview_split
from pipeline.review.state import ReviewState, load_state, unreviewed_state
from pipeline.review.store import DEFAULT_STORE, ReviewStore, default_store_path
from pipeline.review.vocabulary import (
    ACTIONS,
    LOG_COLUMNS,
    STATUSES,
    UNASSIGNED_KEY,
    Decision,
    NewDecision,
    cluster_key,
    decision_problem,
    describe,
    effective_decisions,
    log_frame,
)

__all__ = [
    "ACTIONS",
    "Answer",
    "AnswerSet",
    "answer_theme",
    "theme_accuracy",
    "theme_answers",
    "CARRY_OVER_REVIEWER",
    "CLEAR_JACCARD",
    "DEFAULT_STORE",
    "LOG_COLUMNS",
    "REVIEW_COLUMNS",
    "STATUSES",
    "UNASSIGNED_KEY",
    "UNCLEAR_OVERLAP",
    "CarryOverReport",
    "ClusterMatch",
    "InheritReport",
    "Decision",
    "InvalidDecision",
    "NewDecision",
    "ReplayResult",
    "ReviewError",
    "ReviewState",
    "ReviewStore",
    "SkippedDecision",
    "SplitPreview",
    "StaleStateError",
    "StoreNotWritable",
    "StoreUnreadable",
    "UnknownRun",
    "accept_split",
    "add_note",
    "carry_over",
    "carry_over_runs",
    "cluster_key",
    "decision_problem",
    "default_store_path",
    "describe",
    "effective_decisions",
    "inherit_review",
    "inherit_review_runs",
    "load_state",
    "log_frame",
    "merge",
    "merged_status",
    "move",
    "preview_split",
    "rename",
    "replay",
    "reviewed_tables",
    "set_status",
    "set_theme",
    "undo",
    "unreviewed_state",
]
