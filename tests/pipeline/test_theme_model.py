"""The theme model (labels move probabilities near them) and triage (which papers to ask
about, how accurate the themes are)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.config import ThemeConfig
from pipeline.themes.evidence import unit
from pipeline.themes.model import (
    LABEL_CONFIDENCE,
    ThemeLabel,
    assign_from_prior,
    softmax,
)
from pipeline.themes.triage import (
    AUDIT_EVERY,
    PER_CLUSTER,
    cross_validated_accuracy,
    triage_queue,
    wilson,
)

CLASSES = ["a", "b", "other"]


def _world(seed=0, n=60):
    """Two tight groups of papers (rows 0-29 and 30-59) with a prior that calls all of them
    "other" by a small margin."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((2, 24))
    vectors = unit(np.vstack([centres[i // 30] + 0.2 * rng.standard_normal(24) for i in range(n)]))
    prior = np.zeros((n, 3), dtype=np.float32)
    prior[:, 2] = 0.5
    ids = [f"p{i}" for i in range(n)]
    return prior, vectors, ids


def test_no_labels_give_the_prior():
    """Without labels the probabilities are the softmax of the prior logits."""
    prior, vectors, ids = _world()
    fit = assign_from_prior(prior, vectors, ids, CLASSES, [], ThemeConfig())
    assert np.allclose(fit.probabilities, softmax(prior), atol=1e-6)
    assert (fit.theme_ids == "other").all() and fit.n_used == {
        "answer": 0,
        "cluster": 0,
        "example": 0,
    }


def test_an_answer_moves_its_paper_and_its_neighbours_only():
    """An answer fixes its paper at the label's confidence and tips close neighbours (same
    group) to that theme, while the other group keeps the prior."""
    prior, vectors, ids = _world()
    labels = [ThemeLabel("p0", ("a",)), ThemeLabel("p1", ("a",))]
    fit = assign_from_prior(prior, vectors, ids, CLASSES, labels, ThemeConfig())
    assert fit.theme_probability[0] == pytest.approx(LABEL_CONFIDENCE, abs=0.01)
    assert (fit.theme_ids[2:30] == "a").mean() > 0.8
    assert (fit.theme_ids[30:] == "other").all()
    again = assign_from_prior(prior, vectors, ids, CLASSES, labels, ThemeConfig())
    assert np.array_equal(again.probabilities, fit.probabilities)  # deterministic


def test_two_themes_answer_gives_a_secondary_theme():
    """An answer naming two themes makes one the theme and the other the secondary theme."""
    prior, vectors, ids = _world()
    fit = assign_from_prior(
        prior, vectors, ids, CLASSES, [ThemeLabel("p3", ("a", "b"))], ThemeConfig()
    )
    assert {fit.theme_ids[3], fit.secondary_ids[3]} == {"a", "b"}
    assert fit.secondary_ids[40] is None


def test_counter_example_takes_a_theme_away():
    """A counter-example of the paper's best theme gives it its next best class instead."""
    prior, vectors, ids = _world()
    prior[5] = [4.0, 3.5, 0.0]
    fit = assign_from_prior(
        prior,
        vectors,
        ids,
        CLASSES,
        [ThemeLabel("p5", excluded=("a",), source="example")],
        ThemeConfig(),
    )
    assert fit.theme_ids[5] == "b"


def test_answers_beat_cluster_themes_beat_examples():
    """A paper labelled by several sources takes the answer, then the cluster theme."""
    prior, vectors, ids = _world()
    labels = [
        ThemeLabel("p7", ("a",), source="example"),
        ThemeLabel("p7", ("b",), source="answer"),
        ThemeLabel("p8", ("a",), source="example"),
        ThemeLabel("p8", ("b",), source="cluster"),
    ]
    fit = assign_from_prior(prior, vectors, ids, CLASSES, labels, ThemeConfig())
    assert fit.theme_ids[7] == "b" and fit.theme_ids[8] == "b"
    assert fit.n_used == {"answer": 1, "cluster": 1, "example": 0}


def test_unusable_labels_are_skipped_with_a_reason():
    """A label for a paper not in the run, or naming a theme the run lacks, is skipped and
    said so; the others still apply."""
    prior, vectors, ids = _world()
    labels = [
        ThemeLabel("gone", ("a",)),
        ThemeLabel("p1", ("removed-theme",)),
        ThemeLabel("p2", ("a",)),
    ]
    fit = assign_from_prior(prior, vectors, ids, CLASSES, labels, ThemeConfig())
    assert fit.theme_ids[2] == "a"
    assert fit.skipped == (
        "answer for gone: paper not in this run",
        "answer for p1: unknown theme 'removed-theme'",
    )


def test_triage_asks_unsure_papers_spread_over_clusters_and_audits():
    """The queue starts with the least certain papers, at most PER_CLUSTER per cluster, never
    an answered paper, with a random audit paper at every AUDIT_EVERY-th position; the same
    input gives the same queue."""
    rng = np.random.default_rng(3)
    n = 200
    probabilities = softmax(rng.normal(0, 2, (n, 3)))
    probabilities[:10] = 1 / 3  # the most uncertain (a three-way tie): all in cluster 0
    clusters = np.where(np.arange(n) < 10, 0, 1 + np.arange(n) % 7)
    vectors = unit(rng.standard_normal((n, 32)))
    queue = triage_queue(probabilities, clusters, vectors, answered=[0], n=12, seed=1)
    rows = [item.row for item in queue]
    assert len(rows) == 12 and 0 not in rows and len(set(rows)) == 12
    assert sum(clusters[r] == 0 for r in rows) <= PER_CLUSTER
    audits = [i for i, item in enumerate(queue) if item.is_audit]
    assert audits and all((1 + 1 + i) % AUDIT_EVERY == 0 for i in audits)  # 1 answer so far
    assert not queue[0].is_audit and queue[0].row in range(10)
    again = triage_queue(probabilities, clusters, vectors, answered=[0], n=12, seed=1)
    assert [item.row for item in again] == rows


def test_triage_skips_near_duplicates():
    """Two identical uncertain papers are never both in one queue."""
    probabilities = np.tile([0.5, 0.5, 0.0], (4, 1))
    vectors = unit(np.array([[1.0, 0, 0], [1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]]))
    queue = triage_queue(probabilities, np.arange(4), vectors, n=4)
    rows = [item.row for item in queue if not item.is_audit]
    assert not {0, 1} <= set(rows)


def test_wilson_interval():
    """The Wilson interval holds the share, stays within 0..1 and narrows with more papers."""
    small, large = wilson(8, 10), wilson(80, 100)
    assert small.low < 0.8 < small.high and large.low < 0.8 < large.high
    assert (large.high - large.low) < (small.high - small.low)
    assert wilson(0, 0).n == 0 and wilson(0, 0).text() == "no estimate yet"
    assert 0.0 <= wilson(0, 3).low and wilson(3, 3).high <= 1.0


def test_cross_validated_accuracy_on_consistent_answers():
    """Answers that agree with their neighbours are predicted right when left out."""
    prior, vectors, ids = _world()
    rows = np.array([0, 1, 2, 3, 30, 31, 32, 33])
    targets = np.zeros((8, 3), dtype=np.float32)
    targets[:4, 0] = 1
    targets[4:, 1] = 1
    estimate = cross_validated_accuracy(prior, vectors, rows, targets, ThemeConfig())
    assert estimate.n == 8 and estimate.share == 1.0
