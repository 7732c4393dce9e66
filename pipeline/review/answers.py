"""Theme answers: reads every run's decision log in the store; produces the reviewers' answers
about papers' themes, keyed by paper id so they apply to any run holding the paper (latest answer
wins; every answer stays in the log and disagreements are listed)."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.review.store import ReviewStore
from pipeline.review.vocabulary import Decision, decision_problem, effective_decisions
from pipeline.themes.model import ThemeLabel


@dataclass(frozen=True)
class Answer:
    """One answer in effect: `theme_ids` empty means the reviewer skipped the paper."""

    paper_id: str
    theme_ids: tuple[str, ...]
    reviewer: str
    time: str
    run_id: str
    decision_id: int
    guess: str  # the model's theme for the paper when it was answered ("" when unknown)
    is_audit: bool  # asked at random, not because the model was unsure


@dataclass(frozen=True)
class AnswerSet:
    """Every answer in effect, oldest first; `latest` per paper; `labels` the latest non-skip
    answers as theme labels; `disagreements` papers whose reviewers answered differently."""

    answers: tuple[Answer, ...]

    @property
    def latest(self) -> dict[str, Answer]:
        return {a.paper_id: a for a in self.answers}

    @property
    def labels(self) -> tuple[ThemeLabel, ...]:
        return tuple(
            ThemeLabel(a.paper_id, a.theme_ids, source="answer")
            for a in self.latest.values()
            if a.theme_ids
        )

    @property
    def disagreements(self) -> dict[str, tuple[Answer, ...]]:
        by_paper: dict[str, list[Answer]] = {}
        for a in self.answers:
            if a.theme_ids:
                by_paper.setdefault(a.paper_id, []).append(a)
        return {
            p: tuple(found)
            for p, found in by_paper.items()
            if len({tuple(sorted(a.theme_ids)) for a in found}) > 1
        }


def _answer(d: Decision) -> Answer:
    before = d.before if isinstance(d.before, dict) else {}
    return Answer(
        paper_id=d.target["paper_id"],
        theme_ids=tuple(d.after["theme_ids"]),
        reviewer=d.reviewer,
        time=d.time,
        run_id=d.run_id,
        decision_id=d.decision_id,
        guess=str(before.get("theme_id", "")),
        is_audit=bool(before.get("is_audit", False)),
    )


def theme_answers(store: ReviewStore) -> AnswerSet:
    """The answers in effect in every run's log (an undone answer is not), oldest first. A
    malformed answer row is left out (replay reports such rows for its own run)."""
    found = []
    for run_id in store.runs():
        for d in effective_decisions(store.decisions(run_id)):
            if d.action == "theme_answer" and not decision_problem(d.action, d.target, d.after):
                found.append(_answer(d))
    return AnswerSet(tuple(sorted(found, key=lambda a: (a.time, a.decision_id))))


def theme_accuracy(answers: AnswerSet, run) -> tuple:
    """(audit, cross-validated) `AccuracyEstimate`s of `run`'s themes from `answers` (see
    `pipeline.themes.triage.accuracy_estimates`)."""
    from pipeline.config import theme_config_of
    from pipeline.themes.evidence import unit
    from pipeline.themes.triage import accuracy_estimates

    return accuracy_estimates(
        answers,
        run.theme_prior(),
        unit(run.embeddings(mmap=False)),
        run.assignments["paper_id"].tolist(),
        run.themes["theme_id"].tolist(),
        theme_config_of(run.manifest.config),
    )
