"""Theme evidence: reads paper texts and embeddings and the themes' names, descriptions, key terms
and counter terms (embedded by the caller's encoder); produces each paper's prior logit for every
theme and for "other". No labels are used here: this is what the themes file alone says."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.themes.definitions import Theme

# A theme with no evidence of its own in a paper (none of its terms in the text, similarity below
# `evidence_similarity`) gets this much added to its logit: effectively closed, yet labels of
# nearby papers can still open it.
CLOSED_PENALTY = -6.0


def unit(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), float32."""
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


def theme_texts(theme: Theme) -> list[str]:
    """What a theme is embedded from: "name: description", then each key term (not the counter
    terms: a phrase the theme is not about would only pull similar papers towards it)."""
    return [f"{theme.name}: {theme.description}", *theme.terms]


def theme_similarity(
    embeddings: np.ndarray,
    themes: Sequence[Theme],
    encode: Callable[[list[str]], np.ndarray],
    top_terms: int = 3,
) -> np.ndarray:
    """Paper-by-theme cosine similarity, shape (n_papers, n_themes): the mean of the similarity
    to the theme's description and of the paper's `top_terms` best key-term similarities (a
    paper needs to match only some terms)."""
    papers = unit(embeddings)
    columns = []
    for theme in themes:
        sims = papers @ unit(encode(theme_texts(theme))).T
        if sims.shape[1] > 1:
            terms = np.sort(sims[:, 1:], axis=1)[:, ::-1][:, :top_terms].mean(axis=1)
            columns.append((sims[:, 0] + terms) / 2)
        else:
            columns.append(sims[:, 0])
    return np.stack(columns, axis=1) if columns else np.zeros((len(papers), 0), np.float32)


_PREFIXES = ("pre", "post", "self", "multi", "non", "fine")
_JOIN_PREFIX = re.compile(r"\b(" + "|".join(_PREFIXES) + r")[\s-]+(?=[a-z])")
_NOT_WORD = re.compile(r"[^0-9a-z]+")


def normalise_for_terms(text: str) -> str:
    """Lower case, every run of non-alphanumeric characters one space, and a common prefix joined
    to its word ("Pre-Training" -> "pretraining"), padded with spaces: the form in which key
    terms are looked up."""
    text = _JOIN_PREFIX.sub(r"\1", text.lower())
    return " " + _NOT_WORD.sub(" ", text).strip() + " "


def term_counts(texts: Sequence[str], themes: Sequence[Theme], counter: bool = False) -> np.ndarray:
    """Occurrences of each theme's name and key terms (with `counter`: its counter terms) in each
    text, shape (n_texts, n_themes).

    Text and terms are compared in `normalise_for_terms` form; a term matches where a word starts
    and may end inside a word ("robot" also counts "robots"); every term counts on its own, so
    "reinforcement learning from human feedback" also counts as "reinforcement learning". One
    Aho-Corasick pass per text finds every term of every theme. Exact phrases are precise where
    a small embedding model is vague.
    """
    import ahocorasick

    out = np.zeros((len(texts), len(themes)), dtype=np.float32)
    automaton = ahocorasick.Automaton()
    for j, theme in enumerate(themes):
        for term in set(theme.counter_terms) if counter else {theme.name, *theme.terms}:
            key = normalise_for_terms(term).rstrip()  # " term": must start a word
            if key.strip():
                owners = automaton.get(key, ())
                automaton.add_word(key, (*owners, j))
    if len(automaton) == 0:
        return out
    automaton.make_automaton()
    for i, text in enumerate(texts):
        for _, owners in automaton.iter(normalise_for_terms(text)):
            for j in owners:
                out[i, j] += 1
    return out


def standardise(scores: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """Per theme (column): subtract the corpus mean, divide by the standard deviation.

    A theme's raw similarity mostly reflects the corpus' shared vocabulary (every paper of a
    pretraining listing is somewhat similar to "pretraining data"); its z-score says how much
    more a paper matches it than the corpus does. Constant columns become 0. `reference`: the
    scores of the corpus whose mean and deviation apply (default: `scores` themselves), so papers
    added to a run are scored on the run's scale.
    """
    reference = scores if reference is None else reference
    if len(reference) < 2:
        return np.zeros_like(scores)
    std = reference.std(axis=0)
    safe = np.where(std > 1e-9, std, 1)
    return np.where(std > 1e-9, (scores - reference.mean(axis=0)) / safe, 0.0)


@dataclass(frozen=True)
class Evidence:
    """Per paper and theme, (n_papers, n_themes): raw cosine `similarity`, occurrences of the
    theme's name or key terms in the title (`title_hits`) and the abstract (`abstract_hits`), and
    of its counter terms (`title_counter_hits`, `abstract_counter_hits`)."""

    similarity: np.ndarray
    title_hits: np.ndarray
    abstract_hits: np.ndarray
    title_counter_hits: np.ndarray
    abstract_counter_hits: np.ndarray


def theme_evidence(
    embeddings: np.ndarray,
    titles: Sequence[str],
    abstracts: Sequence[str],
    themes: Sequence[Theme],
    encode: Callable[[list[str]], np.ndarray],
) -> Evidence:
    """Everything the themes file says about each paper."""
    return Evidence(
        similarity=theme_similarity(embeddings, themes, encode),
        title_hits=term_counts(titles, themes),
        abstract_hits=term_counts(abstracts, themes),
        title_counter_hits=term_counts(titles, themes, counter=True),
        abstract_counter_hits=term_counts(abstracts, themes, counter=True),
    )


def prior_logits(
    evidence: Evidence, config, reference_similarity: np.ndarray | None = None
) -> np.ndarray:
    """Logits (n_papers, n_themes + 1), "other" last, from `evidence` and a `ThemeConfig`:
    similarity_weight * z(similarity) + title_weight * [a term in the title]
    + abstract_weight * log(1 + term occurrences in the abstract)
    - abstract_weight * log(1 + counter-term occurrences in title and abstract), with
    CLOSED_PENALTY for a theme with no evidence of its own (counter terms open nothing); the
    "other" logit is `min_score`. A counter term in the title weighs like one in the abstract, not
    like a key term in the title: a title naming both (pretraining and post-training data) is not
    pushed out of the theme. The z-score is over `reference_similarity` (a run's papers) when
    given, else over these papers."""
    scores = (
        config.similarity_weight * standardise(evidence.similarity, reference_similarity)
        + config.title_weight * (evidence.title_hits > 0)
        + config.abstract_weight * np.log1p(evidence.abstract_hits)
        - config.abstract_weight
        * np.log1p(evidence.title_counter_hits + evidence.abstract_counter_hits)
    )
    has_terms = (evidence.title_hits + evidence.abstract_hits) > 0
    is_open = has_terms | (evidence.similarity >= config.evidence_similarity)
    scores = np.where(is_open, scores, scores + CLOSED_PENALTY)
    other = np.full((len(scores), 1), config.min_score)
    return np.hstack([scores, other]).astype(np.float32)
