"""Theme model: reads prior theme logits (from `evidence.prior_logits`), the papers' unit
embeddings and theme labels (examples from the themes file, reviewers' answers, cluster themes);
produces every paper's probability for each theme and for "other", its theme and, when it clearly
belongs to two, a secondary theme.

Numpy only (no torch): the dashboard refits it after every answer. A label moves the
probabilities of the paper itself (to the label) and of its close neighbours: each labelled
paper's residual (label minus prior probability) is spread to papers whose cosine similarity to
it passes `reach`, weighted by (similarity - reach)^2 over the `k` nearest labelled papers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NEAREST_LABELS = 30  # labelled papers that may move one paper's probabilities
LABEL_CONFIDENCE = 0.98  # a labelled paper's probability of its label (the rest spread evenly)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class Labels:
    """Theme labels of some papers: `rows` index the papers (int64, unique) and `targets` hold
    each one's target distribution over the themes then "other" (rows sum to 1), aligned."""

    rows: np.ndarray
    targets: np.ndarray

    @classmethod
    def empty(cls, n_classes: int) -> Labels:
        return cls(np.zeros(0, dtype=np.int64), np.zeros((0, n_classes), dtype=np.float32))

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(frozen=True)
class ThemeFit:
    """`probabilities` (n_papers, n_themes + 1), "other" last; `best` the index of each paper's
    theme; `secondary` the index of a second theme it clearly belongs to, or -1."""

    probabilities: np.ndarray
    best: np.ndarray
    secondary: np.ndarray


def label_shift(
    queries: np.ndarray, labelled: np.ndarray, residuals: np.ndarray, reach: float
) -> np.ndarray:
    """Per query paper (unit rows), the similarity-weighted mean residual of its nearest
    labelled papers (`labelled` unit rows, `residuals` aligned); zeros where no labelled paper
    is within reach. Shape (n_queries, n_classes)."""
    n, n_classes = len(queries), residuals.shape[1]
    if len(labelled) == 0:
        return np.zeros((n, n_classes), dtype=np.float32)
    shift = np.empty((n, n_classes), dtype=np.float32)
    block = max(256, int(2e7 // max(len(labelled), 1)))  # bounded memory at 75k papers
    for start in range(0, n, block):
        weights = np.clip(queries[start : start + block] @ labelled.T - reach, 0, None)
        weights **= 2
        if weights.shape[1] > NEAREST_LABELS:
            far = np.argpartition(-weights, NEAREST_LABELS - 1, axis=1)[:, NEAREST_LABELS:]
            np.put_along_axis(weights, far, 0.0, axis=1)
        shift[start : start + block] = (weights @ residuals) / (
            weights.sum(1, keepdims=True) + 0.05
        )
    return shift


def fit_themes(prior: np.ndarray, unit_embeddings: np.ndarray, labels: Labels, config) -> ThemeFit:
    """Probabilities from the prior logits, moved by `labels`; `config` is a `ThemeConfig`
    (`label_reach`, `label_strength`, `secondary_margin`). Deterministic; no labels gives the
    prior's softmax."""
    logits = np.asarray(prior, dtype=np.float32)
    if len(labels):
        residuals = labels.targets - softmax(logits[labels.rows])
        shift = label_shift(
            unit_embeddings, unit_embeddings[labels.rows], residuals, config.label_reach
        )
        logits = logits + config.label_strength * shift
    probabilities = softmax(logits)
    if len(labels):
        spread = (1 - LABEL_CONFIDENCE) / probabilities.shape[1]
        probabilities[labels.rows] = labels.targets * (LABEL_CONFIDENCE - spread) + spread
        logits[labels.rows] = np.log(probabilities[labels.rows])
    best = probabilities.argmax(axis=1)
    return ThemeFit(probabilities, best, _secondary(logits, best, config.secondary_margin))


def _secondary(logits: np.ndarray, best: np.ndarray, margin: float) -> np.ndarray:
    """The best named theme after the paper's theme, when both pass "other"'s logit by `margin`
    (each would win on its own); -1 when there is none or the paper's theme is "other"."""
    named = logits[:, :-1]
    if named.shape[1] < 2:
        return np.full(len(logits), -1)
    rows = np.arange(len(logits))
    other = logits[:, -1]
    is_named = best < named.shape[1]
    rest = named.copy()
    rest[rows[is_named], best[is_named]] = -np.inf
    second = rest.argmax(axis=1)
    first_clear = is_named & (named[rows, np.minimum(best, named.shape[1] - 1)] - other >= margin)
    clear = first_clear & (rest[rows, second] - other >= margin)
    return np.where(clear, second, -1)


# ------------------------------------------------------------------------------------------
# Labels as people give them


LABEL_SOURCES = ("answer", "cluster", "example")  # a paper's label comes from the first source


@dataclass(frozen=True)
class ThemeLabel:
    """What someone said about one paper's theme: it is in `theme_ids` (one or two themes, or
    just "other") and not in `excluded` (a counter-example). `source` is one of LABEL_SOURCES."""

    paper_id: str
    theme_ids: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    source: str = "answer"


@dataclass(frozen=True)
class ThemeAssignment:
    """Per paper (input order): `probabilities` (n, n_classes), `theme_ids` (best class),
    `theme_probability` (its probability), `secondary_ids` (a second theme, or None);
    `n_used` counts the papers labelled per source; `skipped` says which labels were unusable."""

    probabilities: np.ndarray
    theme_ids: np.ndarray
    theme_probability: np.ndarray
    secondary_ids: np.ndarray
    n_used: dict[str, int]
    skipped: tuple[str, ...]


def label_targets(
    labels: list[ThemeLabel],
    paper_ids: list[str],
    class_ids: list[str],
    prior_probabilities: np.ndarray,
) -> tuple[Labels, dict[str, int], list[str]]:
    """Each labelled paper's target distribution: its themes shared equally, or (for only
    counter-examples) its prior with the excluded themes taken out. A paper takes its label
    from the first source of LABEL_SOURCES that has one; labels of one source add up."""
    row_of = {p: i for i, p in enumerate(paper_ids)}
    column = {c: j for j, c in enumerate(class_ids)}
    chosen: dict[int, tuple[int, set[str], set[str]]] = {}
    skipped: list[str] = []
    for label in labels:
        row = row_of.get(label.paper_id)
        unknown = [t for t in (*label.theme_ids, *label.excluded) if t not in column]
        if row is None or unknown:
            why = "paper not in this run" if row is None else f"unknown theme {unknown[0]!r}"
            skipped.append(f"{label.source} for {label.paper_id}: {why}")
            continue
        rank = LABEL_SOURCES.index(label.source)
        current = chosen.get(row)
        if current is None or rank < current[0]:
            chosen[row] = (rank, set(label.theme_ids), set(label.excluded))
        elif rank == current[0]:
            current[1].update(label.theme_ids)
            current[2].update(label.excluded)
    rows = np.array(sorted(chosen), dtype=np.int64)
    targets = np.zeros((len(rows), len(class_ids)), dtype=np.float32)
    n_used = dict.fromkeys(LABEL_SOURCES, 0)
    for i, row in enumerate(rows):
        rank, inside, outside = chosen[row]
        n_used[LABEL_SOURCES[rank]] += 1
        if inside - outside:
            for theme in inside - outside:
                targets[i, column[theme]] = 1.0
        else:
            targets[i] = prior_probabilities[row]
            for theme in outside:
                targets[i, column[theme]] = 0.0
            if targets[i].sum() == 0:
                targets[i, -1] = 1.0
        targets[i] /= targets[i].sum()
    return Labels(rows, targets), n_used, skipped


def assign_from_prior(
    prior: np.ndarray,
    unit_embeddings: np.ndarray,
    paper_ids: list[str],
    class_ids: list[str],
    labels: list[ThemeLabel],
    config,
) -> ThemeAssignment:
    """Themes of every paper from the prior logits and the labels (the pipeline's theme stage
    and the dashboard after each answer both end here). `class_ids` are the theme ids in prior
    column order, "other" last."""
    prior = np.asarray(prior, dtype=np.float32)
    targets, n_used, skipped = label_targets(labels, paper_ids, class_ids, softmax(prior))
    fit = fit_themes(prior, unit_embeddings, targets, config)
    classes = np.array(class_ids, dtype=object)
    rows = np.arange(len(prior))
    return ThemeAssignment(
        probabilities=fit.probabilities,
        theme_ids=classes[fit.best],
        theme_probability=fit.probabilities[rows, fit.best].astype(np.float64),
        secondary_ids=np.where(fit.secondary >= 0, classes[np.maximum(fit.secondary, 0)], None),
        n_used=n_used,
        skipped=tuple(skipped),
    )
