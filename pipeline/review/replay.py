"""Replay: a run and its decision log in, the reviewed tables out: every run table with labels,
themes, statuses, notes, merges, splits and moves applied, plus the decisions that could not be
applied. Every derived number comes from `pipeline.derive`; no store, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline import derive
from pipeline.config import theme_config_of
from pipeline.contract import OTHER, UNASSIGNED, Run
from pipeline.review.vocabulary import (
    UNASSIGNED_KEY,
    Decision,
    cluster_key,
    decision_problem,
    effective_decisions,
)
from pipeline.themes.evidence import unit
from pipeline.themes.model import ThemeAssignment, ThemeLabel, assign_from_prior


def merged_status(statuses: Sequence[str]) -> str:
    """The status of a merge's result: the one status its reviewed parts agree on (merging
    unreviewed clusters into an accepted one keeps it accepted); "unreviewed" when none was
    reviewed or the reviewed ones disagree (accepted + rejected needs a new look)."""
    reviewed = {s for s in statuses if s != "unreviewed"}
    return reviewed.pop() if len(reviewed) == 1 else "unreviewed"


@dataclass
class _Cluster:
    key: str
    cluster_id: int
    label: str
    original_label: str
    keywords: list[str]
    representative_paper_ids: list[str]
    origin_cluster_ids: list[int]
    status: str = "unreviewed"
    notes: list[str] = field(default_factory=list)
    theme_override: str | None = None
    is_renamed: bool = False
    is_merged: bool = False
    is_split: bool = False
    has_moves: bool = False
    n_decisions: int = 0


@dataclass
class _State:
    clusters: dict[str, _Cluster]  # by key; the unassigned papers are UNASSIGNED_KEY
    paper_key: dict[str, str]  # paper id -> cluster key
    moved: set[str]


def _initial_state(run: Run) -> _State:
    assignments = run.assignments
    members: dict[int, list[str]] = {}
    # Python lists first: iterating Arrow-backed columns value by value is many times slower.
    paper_ids, cluster_ids = assignments["paper_id"].tolist(), assignments["cluster_id"].tolist()
    for pid, cid in zip(paper_ids, cluster_ids, strict=True):
        members.setdefault(int(cid), []).append(pid)
    clusters: dict[str, _Cluster] = {}
    id_key: dict[int, str] = {}
    for row in run.clusters.itertuples(index=False):
        cid = int(row.cluster_id)
        key = UNASSIGNED_KEY if cid == UNASSIGNED else cluster_key(members.get(cid, []), str(cid))
        id_key[cid] = key
        clusters[key] = _Cluster(
            key,
            cid,
            row.label,
            row.label,
            list(row.keywords),
            list(row.representative_paper_ids),
            [cid],
        )
    if UNASSIGNED_KEY not in clusters:
        id_key[UNASSIGNED] = UNASSIGNED_KEY
        clusters[UNASSIGNED_KEY] = _Cluster(
            UNASSIGNED_KEY, UNASSIGNED, "unassigned", "unassigned", [], [], [UNASSIGNED]
        )
    for cid in members:
        if cid not in id_key:  # an assignment to a cluster the clusters table lacks
            id_key[cid] = cluster_key(members[cid], str(cid))
            clusters[id_key[cid]] = _Cluster(
                id_key[cid], cid, f"cluster {cid}", f"cluster {cid}", [], [], [cid]
            )
    paper_key = {pid: id_key[int(cid)] for pid, cid in zip(paper_ids, cluster_ids, strict=True)}
    return _State(clusters, paper_key, set())


class _NotApplicable(Exception):
    """A logged decision replay cannot apply (its reason is the message); nothing changed."""


def _get(state: _State, key: str) -> _Cluster:
    if key not in state.clusters:
        raise _NotApplicable(f"it names cluster {key}, which does not exist")
    return state.clusters[key]


def _check_new_clusters(
    state: _State, replaced: set[str], made: list[tuple[str, int]], what: str
) -> None:
    """Clusters a merge or split makes must not take the key or id of a cluster that stays."""
    staying = [c for k, c in state.clusters.items() if k not in replaced]
    keys = [k for k, _ in made]
    ids = [i for _, i in made]
    if len(set(keys)) < len(keys) or len(set(ids)) < len(ids):
        raise _NotApplicable(f"its {what} repeat a cluster key or id")
    taken = {c.key for c in staying} & set(keys) or {c.cluster_id for c in staying} & set(ids)
    if taken:
        raise _NotApplicable(f"its {what} take the key or id of another cluster ({taken.pop()})")


def _apply(state: _State, d: Decision, themes: set[str]) -> None:
    """Apply one decision to the state. Everything is checked before anything changes, so a
    decision that cannot be applied (_NotApplicable) leaves the state as it was."""
    problem = decision_problem(d.action, d.target, d.after)
    if problem is not None:
        raise _NotApplicable(problem)
    t, a = d.target, d.after
    if d.action in ("rename", "set_theme", "set_status", "note"):
        c = _get(state, t["cluster_key"])
        if d.action == "set_theme" and a["theme_id"] not in themes:
            raise _NotApplicable(f"theme {a['theme_id']!r} is not a theme of the run")
        c.n_decisions += 1
        if d.action == "rename":
            c.label, c.is_renamed = a["label"], True
        elif d.action == "set_theme":
            c.theme_override = a["theme_id"]
        elif d.action == "set_status":
            c.status = a["status"]
        else:
            c.notes.append(a["text"])
    elif d.action == "merge":
        parts = [_get(state, c["cluster_key"]) for c in t["clusters"]]
        gone = {p.key for p in parts}
        if len(gone) < 2 or UNASSIGNED_KEY in gone:
            raise _NotApplicable("a merge needs two or more distinct clusters, not unassigned")
        _check_new_clusters(state, gone, [(a["cluster_key"], int(a["cluster_id"]))], "result")
        merged = _Cluster(
            a["cluster_key"],
            int(a["cluster_id"]),
            a["label"],
            a["label"],
            list(a["keywords"]),
            list(a["representative_paper_ids"]),
            sorted({o for p in parts for o in p.origin_cluster_ids}),
            status=merged_status([p.status for p in parts]),
            notes=[n for p in parts for n in p.notes],
            theme_override=next((p.theme_override for p in parts if p.theme_override), None),
            is_merged=True,
            has_moves=any(p.has_moves for p in parts),
            n_decisions=sum(p.n_decisions for p in parts) + 1,
        )
        for key in gone:
            del state.clusters[key]
        state.clusters[merged.key] = merged
        for pid, key in state.paper_key.items():
            if key in gone:
                state.paper_key[pid] = merged.key
    elif d.action == "split":
        source = _get(state, t["cluster_key"])
        if source.key == UNASSIGNED_KEY:
            raise _NotApplicable("the unassigned papers cannot be split")
        made = [(p["cluster_key"], int(p["cluster_id"])) for p in a["parts"]]
        _check_new_clusters(state, {source.key}, made, "parts")
        del state.clusters[source.key]
        first_key = a["parts"][0]["cluster_key"]
        for part in a["parts"]:
            state.clusters[part["cluster_key"]] = _Cluster(
                part["cluster_key"],
                int(part["cluster_id"]),
                part["label"],
                part["label"],
                list(part["keywords"]),
                list(part["representative_paper_ids"]),
                list(source.origin_cluster_ids),
                theme_override=source.theme_override,
                is_split=True,
                has_moves=source.has_moves,
                n_decisions=source.n_decisions + 1,
            )
            for pid in part["paper_ids"]:
                if state.paper_key.get(pid) == source.key:
                    state.paper_key[pid] = part["cluster_key"]
        for pid, key in state.paper_key.items():  # papers the parts do not list stay together
            if key == source.key:
                state.paper_key[pid] = first_key
    elif d.action == "theme_answer":
        return  # answers apply by paper id across runs: see `replay`'s `answers`
    elif d.action == "move":
        dest = _get(state, a["cluster_key"])
        unknown = [pid for pid in t["paper_ids"] if pid not in state.paper_key]
        if unknown:
            raise _NotApplicable(f"it moves papers not in the run: {', '.join(unknown[:3])}")
        dest.has_moves = True
        dest.n_decisions += 1
        for pid in t["paper_ids"]:
            old = state.clusters.get(state.paper_key[pid])
            if old is not None:
                old.has_moves = True
            state.paper_key[pid] = dest.key
            state.moved.add(pid)


@dataclass(frozen=True)
class SkippedDecision:
    """A logged decision replay could not apply (an old or foreign row): which, and why."""

    decision_id: int
    seq: int
    action: str
    reason: str


def _replay(
    run: Run, log: pd.DataFrame | Iterable[Decision] | None
) -> tuple[_State, tuple[SkippedDecision, ...]]:
    state = _initial_state(run)
    themes = {*run.themes["theme_id"], OTHER}
    skipped = []
    for decision in effective_decisions(log):
        try:
            _apply(state, decision, themes)
        except _NotApplicable as exc:
            skipped.append(
                SkippedDecision(decision.decision_id, decision.seq, decision.action, str(exc))
            )
    return state, tuple(skipped)


# Extra columns `reviewed_tables` adds (the README documents each).
REVIEW_COLUMNS: dict[str, dict[str, str]] = {
    "assignments": {
        "original_cluster_id": "cluster of the paper in the run, before any review decision",
        "cluster_key": "stable key of the paper's reviewed cluster",
        "original_theme_id": "theme of the paper in the run",
        "is_moved": "a reviewer moved this paper",
        "is_answered": "a reviewer answered this paper's theme (in any run)",
        "is_theme_edited": "the paper's theme differs from the run's (answers, cluster themes)",
        "is_edited": "any of the above changed this paper",
    },
    "clusters": {
        "cluster_key": "stable key: hash of the member paper ids when the cluster came to be",
        "original_label": "label before any rename (for merges and splits: the made-up label)",
        "origin_cluster_ids": "run cluster ids this reviewed cluster came from",
        "status": "unreviewed, accepted, needs work or rejected",
        "notes": "reviewers' notes, oldest first",
        "n_decisions": "decisions that concerned this cluster",
        "is_renamed": "a reviewer renamed it",
        "is_theme_set": "a reviewer set its theme",
        "is_merged": "made by merging clusters",
        "is_split": "made by splitting a cluster",
        "has_moves": "papers were moved into or out of it",
        "is_edited": "any of the above: a person changed this cluster",
    },
}


@dataclass(frozen=True)
class ReplayResult:
    """The reviewed tables of a run, the logged decisions replay skipped, and every paper's
    theme probabilities (n_papers, n_themes + 1; columns in themes order, "other" last)."""

    tables: dict[str, pd.DataFrame]
    skipped: tuple[SkippedDecision, ...]
    theme_probabilities: np.ndarray


def reviewed_tables(
    run: Run,
    log: pd.DataFrame | Iterable[Decision] | None,
    answers: Sequence[ThemeLabel] = (),
) -> dict[str, pd.DataFrame]:
    """The run's tables with the review applied (`replay(run, log, answers).tables`)."""
    return replay(run, log, answers).tables


def replay(
    run: Run,
    log: pd.DataFrame | Iterable[Decision] | None,
    answers: Sequence[ThemeLabel] = (),
) -> ReplayResult:
    """The run's tables with the review applied: every table of the run, same columns, plus the
    REVIEW_COLUMNS markers on `assignments` and `clusters`; and the decisions it skipped.

    Labels, themes, statuses, notes, merges, splits and moves are applied; the sizes, dates,
    centres and dominant themes of the clusters a decision touched, and the theme counts, are
    recomputed from the reviewed assignments through `pipeline.derive`. `log` is a store log
    frame or a list of decisions of this run (an empty log gives the run as it is, with the
    markers). A decision that cannot be applied (an old or foreign row: malformed, or naming a
    cluster, paper or theme that is not there) is skipped and listed in `skipped`; it never
    stops the replay.

    Themes: the theme model is refitted from the run's prior and examples with reviewers'
    `answers` (theme labels by paper id, from any run) and cluster themes set by a reviewer
    (labels of that cluster's papers) (`pipeline.themes.model.assign_from_prior`), so every
    paper near an answered one can change too; with neither, this gives the run's own themes.
    """
    state, skipped = _replay(run, log)
    tables = dict(run.tables)
    assignments = run.assignments.copy()
    key_id = {c.key: c.cluster_id for c in state.clusters.values()}
    assignments["original_cluster_id"] = assignments["cluster_id"].astype("int64")
    assignments["original_theme_id"] = assignments["theme_id"]
    assignments["cluster_key"] = assignments["paper_id"].map(state.paper_key)
    assignments["cluster_id"] = assignments["cluster_key"].map(key_id).astype("int64")
    assignments["is_moved"] = assignments["paper_id"].isin(state.moved)
    override = {c.key: c.theme_override for c in state.clusters.values() if c.theme_override}
    overridden = assignments["cluster_key"].isin(list(override)).to_numpy()
    cluster_labels = [
        ThemeLabel(pid, (override[key],), source="cluster")
        for pid, key in zip(
            assignments.loc[overridden, "paper_id"].tolist(),
            assignments.loc[overridden, "cluster_key"].tolist(),
            strict=True,
        )
    ]
    answered = {label.paper_id for label in answers}  # of any run: isin keeps this run's
    refit = refit_themes(run, [*cluster_labels, *answers])
    assignments["theme_id"] = refit.theme_ids.astype(str)
    assignments["theme_probability"] = refit.theme_probability
    assignments["secondary_theme_id"] = refit.secondary_ids
    assignments["is_answered"] = assignments["paper_id"].isin(answered)
    assignments["is_theme_edited"] = assignments["theme_id"] != assignments["original_theme_id"]
    assignments["is_edited"] = (
        assignments["is_moved"] | assignments["is_theme_edited"] | assignments["is_answered"]
    )
    tables["assignments"] = assignments

    original = run.clusters.set_index("cluster_id", drop=False)
    changed_membership = {
        c.key for c in state.clusters.values() if c.is_merged or c.is_split or c.has_moves
    }
    theme_changed = set(assignments.loc[assignments["is_theme_edited"], "cluster_key"])
    has_unassigned_row = bool((run.clusters["cluster_id"] == UNASSIGNED).any())
    papers = run.papers.set_index("paper_id")
    rows = []
    for c in state.clusters.values():
        members = (
            assignments[assignments["cluster_key"] == c.key]
            if (c.key in changed_membership or c.key in theme_changed)
            else None
        )
        if (
            c.key == UNASSIGNED_KEY
            and not has_unassigned_row
            and not (assignments["cluster_id"] == UNASSIGNED).any()
        ):
            continue
        if c.cluster_id in original.index and not (c.is_merged or c.is_split):
            row = original.loc[c.cluster_id].to_dict()
        else:
            row = {col: None for col in run.clusters.columns}
            row["cluster_id"] = c.cluster_id
        row.update(
            label=c.label,
            keywords=list(c.keywords),
            representative_paper_ids=list(c.representative_paper_ids),
        )
        if members is None and row.get("n_papers") is None:  # a row the run lacks
            members = assignments[assignments["cluster_key"] == c.key]
        if members is not None:
            row.update(_cluster_facts(c.cluster_id, members, papers))
            kept = set(members["paper_id"])
            row["representative_paper_ids"] = [
                p for p in row["representative_paper_ids"] if p in kept
            ]
        row.update(
            cluster_key=c.key,
            original_label=c.original_label,
            origin_cluster_ids=list(c.origin_cluster_ids),
            status=c.status,
            notes=list(c.notes),
            n_decisions=c.n_decisions,
            is_renamed=c.is_renamed,
            is_theme_set=c.theme_override is not None,
            is_merged=c.is_merged,
            is_split=c.is_split,
            has_moves=c.has_moves,
        )
        row["is_edited"] = any(
            row[k] for k in ("is_renamed", "is_theme_set", "is_merged", "is_split", "has_moves")
        )
        rows.append(row)
    clusters = pd.DataFrame(rows)
    clusters = clusters[[*run.clusters.columns, *REVIEW_COLUMNS["clusters"]]]
    clusters = clusters.sort_values("cluster_id", kind="stable").reset_index(drop=True)
    clusters = clusters.astype({"cluster_id": "int64", "n_papers": "int64"})
    for col in ("first_published", "last_published"):
        clusters[col] = pd.to_datetime(clusters[col])
    tables["clusters"] = clusters

    if changed_membership or theme_changed:
        tables["themes"] = derive.with_theme_counts(run.themes, assignments["theme_id"], clusters)
    return ReplayResult(tables, skipped, refit.probabilities)


def refit_themes(run: Run, labels: Sequence[ThemeLabel]) -> ThemeAssignment:
    """The run's themes refitted with `labels` on top of its stored prior and examples."""
    examples = [
        ThemeLabel(row.paper_id, tuple(row.theme_ids), tuple(row.excluded), row.source)
        for row in run.theme_labels.itertuples(index=False)
    ]
    config = theme_config_of(run.manifest.config)
    return assign_from_prior(
        run.theme_prior(),
        unit(run.embeddings(mmap=False)),
        run.assignments["paper_id"].tolist(),
        run.themes["theme_id"].tolist(),
        [*examples, *labels],
        config,
    )


def _cluster_facts(cluster_id: int, members: pd.DataFrame, papers: pd.DataFrame) -> dict:
    """The derived facts of one reviewed cluster from its member assignments."""
    if members.empty:
        return {
            "n_papers": 0,
            "theme_id": OTHER,
            "theme_share": 0.0,
            "first_published": pd.NaT,
            "last_published": pd.NaT,
            "map_x": 0.0,
            "map_y": 0.0,
        }
    facts = members.assign(
        cluster_id=cluster_id, published=papers.loc[members["paper_id"], "published"].to_numpy()
    )
    return derive.cluster_facts(facts).iloc[0].to_dict()
