"""Theme triage: reads the papers' theme probabilities, clusters and unit embeddings and the papers
already answered; produces the next papers to ask a reviewer about (those an answer teaches the
model most, spread over clusters and themes, plus random audit papers) and an estimate of how
often the themes are right, with an interval. Numpy only."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.themes.model import ThemeLabel, label_shift, label_targets, softmax

NEAR_DUPLICATE = 0.9  # a queued paper this cosine-similar to another queued one is not asked
PER_CLUSTER = 2  # at most this many uncertain papers of one cluster in one queue
AUDIT_EVERY = 5  # every 5th paper asked is drawn at random: it measures accuracy without bias


@dataclass(frozen=True)
class QueueItem:
    """A paper to ask about: its row, whether it is a random audit paper, and why it is asked."""

    row: int
    is_audit: bool
    reason: str


def uncertainty(probabilities: np.ndarray) -> np.ndarray:
    """1 - (best probability - second best): 1 when two classes tie, 0 when one is certain."""
    top = np.sort(probabilities, axis=1)[:, -2:]
    return 1.0 - (top[:, 1] - top[:, 0])


def triage_queue(
    probabilities: np.ndarray,
    cluster_ids: np.ndarray,
    unit_embeddings: np.ndarray,
    answered: Sequence[int] = (),
    n: int = 10,
    seed: int = 0,
    candidates: Sequence[int] | None = None,
) -> list[QueueItem]:
    """The next `n` papers to ask about, best first. The least certain papers come first, with
    at most PER_CLUSTER of one cluster and half the queue of one predicted theme, and never a
    near-duplicate of one already queued; every AUDIT_EVERY-th item (counting the answers so
    far) is a random paper instead. `candidates` limits the pool (default: every paper);
    answered papers are never asked again. Deterministic for a given `seed` and answers.
    """
    pool = np.arange(len(probabilities)) if candidates is None else np.asarray(candidates)
    pool = pool[~np.isin(pool, np.asarray(list(answered), dtype=np.int64))]
    rng = np.random.default_rng([seed, len(answered)])
    randoms = iter(rng.permutation(pool).tolist())
    order = pool[np.argsort(-uncertainty(probabilities[pool]), kind="stable")].tolist()
    predicted = probabilities.argmax(axis=1)
    per_class_cap = max(1, -(-n // 2))
    queue: list[QueueItem] = []
    taken: set[int] = set()
    per_cluster: dict[int, int] = {}
    per_class: dict[int, int] = {}

    def fits(row: int) -> bool:
        if row in taken or per_cluster.get(int(cluster_ids[row]), 0) >= PER_CLUSTER:
            return False
        if per_class.get(int(predicted[row]), 0) >= per_class_cap:
            return False
        near = unit_embeddings[sorted(taken)] @ unit_embeddings[row] if taken else [0.0]
        return float(np.max(near)) < NEAR_DUPLICATE

    def next_uncertain() -> int | None:
        while order:
            row = order.pop(0)
            if fits(row):
                return row
        return None

    position = len(answered)
    while len(queue) < n:
        position += 1
        row = None if position % AUDIT_EVERY == 0 else next_uncertain()
        if row is not None:
            p = np.sort(probabilities[row])[::-1]
            item = QueueItem(row, False, f"the model is unsure ({p[0]:.0%} vs {p[1]:.0%})")
        else:
            row = next((r for r in randoms if r not in taken), None)
            if row is None:
                break
            item = QueueItem(row, True, "drawn at random, to check accuracy")
        queue.append(item)
        taken.add(row)
        per_cluster[int(cluster_ids[row])] = per_cluster.get(int(cluster_ids[row]), 0) + 1
        per_class[int(predicted[row])] = per_class.get(int(predicted[row]), 0) + 1
    return queue


@dataclass(frozen=True)
class AccuracyEstimate:
    """How often the themes are right: `share` of `n` checked papers, with a 95% Wilson
    interval [`low`, `high`]; `n` 0 means no estimate yet."""

    share: float
    low: float
    high: float
    n: int

    def text(self) -> str:
        if self.n == 0:
            return "no estimate yet"
        return f"{self.share:.0%} (95% interval {self.low:.0%}–{self.high:.0%}, {self.n} papers)"


def wilson(right: int, n: int, z: float = 1.96) -> AccuracyEstimate:
    """The Wilson score interval of `right` out of `n` (sensible for small n and shares near
    0 or 1, unlike the normal approximation)."""
    if n == 0:
        return AccuracyEstimate(0.0, 0.0, 1.0, 0)
    share = right / n
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return AccuracyEstimate(share, max(0.0, centre - half), min(1.0, centre + half), n)


def cross_validated_accuracy(
    prior: np.ndarray,
    unit_embeddings: np.ndarray,
    rows: np.ndarray,
    targets: np.ndarray,
    config,
) -> AccuracyEstimate:
    """Leave-one-out accuracy over the answered papers: each one predicted from the prior and
    every other answer (the answered papers are the hard ones the queue picked, so this reads
    low; the audit papers give the unbiased figure)."""
    if len(rows) < 2:
        return wilson(0, 0)
    logits = np.asarray(prior, dtype=np.float32)[rows]
    residuals = targets - softmax(logits)
    right = 0
    for i in range(len(rows)):
        others = np.delete(np.arange(len(rows)), i)
        shift = label_shift(
            unit_embeddings[rows[i] : rows[i] + 1],
            unit_embeddings[rows[others]],
            residuals[others],
            config.label_reach,
        )
        guess = int((logits[i] + config.label_strength * shift[0]).argmax())
        right += targets[i, guess] > 0
    return wilson(right, len(rows))


def accuracy_estimates(
    answers,
    prior: np.ndarray,
    unit_embeddings: np.ndarray,
    paper_ids: list[str],
    class_ids: list[str],
    config,
) -> tuple[AccuracyEstimate, AccuracyEstimate]:
    """(audit, cross-validated) accuracy of a run's themes from reviewers' `answers` (a review
    `AnswerSet`): the audit papers, asked at random, were right when the model's guess before the
    answer is among the answer's themes; the cross-validated figure re-predicts every answered
    paper of the run from all the other answers."""
    latest = [a for a in answers.latest.values() if a.theme_ids]
    audits = [a for a in latest if a.is_audit]
    audit = wilson(sum(a.guess in a.theme_ids for a in audits), len(audits))
    labels = [ThemeLabel(a.paper_id, a.theme_ids) for a in latest]
    targets, _, _ = label_targets(labels, paper_ids, class_ids, softmax(prior))
    cv = cross_validated_accuracy(prior, unit_embeddings, targets.rows, targets.targets, config)
    return audit, cv
