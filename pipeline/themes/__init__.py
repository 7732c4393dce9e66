"""Theme stage: reads the papers (embeddings, titles, abstracts, clusters), a themes file's themes
(or none) and theme labels (examples, reviewers' answers); produces every paper's probability for
each theme and "other", its theme and, when it clearly has two, a secondary theme.

Modules: `definitions` (the themes file, example references), `evidence` (what the themes file
says about each paper: prior logits), `model` (labels move probabilities; numpy only, so the
dashboard refits after each answer), `generated` (themes without a themes file).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.contract import OTHER
from pipeline.themes.definitions import (
    Theme,
    ThemesFileError,
    load_themes,
    parse_themes,
    resolve_examples,
    slugify,
)
from pipeline.themes.evidence import prior_logits, theme_evidence, theme_similarity, unit
from pipeline.themes.generated import auto_n_generated, generated_themes
from pipeline.themes.model import (
    LABEL_SOURCES,
    ThemeAssignment,
    ThemeLabel,
    assign_from_prior,
)

__all__ = [
    "LABEL_SOURCES",
    "Theme",
    "ThemeAssignment",
    "ThemeLabel",
    "ThemeResult",
    "ThemesFileError",
    "assign_themes",
    "extend_prior",
    "load_themes",
    "parse_themes",
    "slugify",
]

NAMED_METHOD = (
    "prior from each theme's description and key terms (z-scored embedding similarity, key terms "
    "in title and abstract); examples and reviewers' answers move the papers near them"
)
GENERATED_METHOD = "generated: k-means groups of the embeddings, named by phrases"


@dataclass(frozen=True)
class ThemeResult:
    """The theme stage's output. `prior` (n, n_themes + 1) float32 logits, "other" last, in
    `themes` order; `assignment` the themes after labels; `examples` the themes file's labels
    found in this corpus; `warnings` one line per unusable example or label."""

    themes: tuple[Theme, ...]
    is_generated: bool
    method: str
    prior: np.ndarray
    assignment: ThemeAssignment
    examples: tuple[ThemeLabel, ...]
    warnings: tuple[str, ...]

    @property
    def class_ids(self) -> list[str]:
        return [t.theme_id for t in self.themes] + [OTHER]


def assign_themes(
    embeddings: np.ndarray,
    titles: Sequence[str],
    abstracts: Sequence[str],
    paper_ids: Sequence[str],
    themes: Sequence[Theme] | None,
    encode: Callable[[list[str]], np.ndarray],
    config,
    *,
    answers: Sequence[ThemeLabel] = (),
    seed: int = 0,
    themes_source: str = "themes file",
) -> ThemeResult:
    """Give every paper theme probabilities and a theme. With `themes` (from a file) the prior
    comes from their descriptions and key terms and their examples become labels; without, themes
    are generated (see `generated`). `answers` (reviewers' labels, matched by paper id) move the
    probabilities too. `config` is a `ThemeConfig`."""
    vectors = unit(embeddings)
    paper_ids = [str(p) for p in paper_ids]
    titles, abstracts = list(titles), list(abstracts)
    warnings: list[str] = []
    examples: list[ThemeLabel] = []
    if themes:
        themes = tuple(themes)
        evidence = theme_evidence(vectors, titles, abstracts, themes, encode)
        prior = prior_logits(evidence, config)
        papers = pd.DataFrame({"paper_id": paper_ids, "title": titles})
        examples, missing = resolve_examples(themes, papers, themes_source)
        warnings += missing
        is_generated, method = False, NAMED_METHOD
    else:
        texts = [f"{t}. {a}" for t, a in zip(titles, abstracts, strict=True)]
        n_groups = config.n_generated or auto_n_generated(len(paper_ids))
        themes, ids = generated_themes(vectors, texts, titles, n_groups, seed)
        prior = generated_prior(ids, [t.theme_id for t in themes], config.min_score)
        is_generated, method = True, GENERATED_METHOD
    class_ids = [t.theme_id for t in themes] + [OTHER]
    assignment = assign_from_prior(
        prior, vectors, paper_ids, class_ids, [*examples, *answers], config
    )
    warnings += [f"theme label not used: {s}" for s in assignment.skipped]
    return ThemeResult(
        themes=tuple(themes),
        is_generated=is_generated,
        method=method,
        prior=prior,
        assignment=assignment,
        examples=tuple(examples),
        warnings=tuple(warnings),
    )


GENERATED_MARGIN = 3.0  # a generated theme's logit above (its papers) or below "other"


def generated_prior(theme_ids: np.ndarray, themes: list[str], min_score: float) -> np.ndarray:
    """Prior logits for generated themes: a paper's own group GENERATED_MARGIN above "other"
    (about 0.95 probability with a handful of themes), every other group as far below."""
    prior = np.full((len(theme_ids), len(themes) + 1), min_score - GENERATED_MARGIN, np.float32)
    prior[:, -1] = min_score
    for j, theme in enumerate(themes):
        prior[theme_ids == theme, j] = min_score + GENERATED_MARGIN
    return prior


def extend_prior(
    prior: np.ndarray,
    embeddings: np.ndarray,
    new_embeddings: np.ndarray,
    new_titles: Sequence[str],
    new_abstracts: Sequence[str],
    themes: Sequence[Theme],
    is_generated: bool,
    encode: Callable[[list[str]], np.ndarray],
    config,
) -> np.ndarray:
    """Prior logits (n_new, n_themes + 1) of papers added to a run, on the run's own scale: the
    run's `prior` (n, n_themes + 1, "other" last) and `embeddings` (aligned).

    Named themes: the evidence of the new papers, z-scored against the run's papers' similarity
    (their prior rows stay as they were). Generated themes: a new paper takes the theme whose
    papers' centroid is most similar (the k-means rule, in the full embedding space). `config`
    is a `ThemeConfig`."""
    new_vectors = unit(new_embeddings)
    if not is_generated:
        evidence = theme_evidence(new_vectors, new_titles, new_abstracts, themes, encode)
        reference = theme_similarity(unit(embeddings), themes, encode)
        return prior_logits(evidence, config, reference_similarity=reference)
    theme_ids = [t.theme_id for t in themes]
    own = np.asarray(prior)[:, : len(theme_ids)].argmax(axis=1)
    vectors = unit(embeddings)
    centroids = unit(
        np.stack([vectors[own == j].sum(axis=0) for j in range(len(theme_ids))])
        if theme_ids
        else np.zeros((0, vectors.shape[1]), np.float32)
    )
    chosen = (
        (new_vectors @ centroids.T).argmax(axis=1)
        if theme_ids
        else np.zeros(len(new_vectors), dtype=np.int64)
    )
    ids = np.array([theme_ids[j] for j in chosen] if theme_ids else [OTHER] * len(chosen))
    return generated_prior(ids, theme_ids, config.min_score)
