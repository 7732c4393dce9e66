"""Cluster labels: reads each cluster's keyphrases, produces a short label a person can read.
Pure text rules, no model."""

from __future__ import annotations

import re
from collections.abc import Sequence

# Words that say a text is a paper, not what it is about.
ACADEMIC_STOP_WORDS = frozenset(
    """paper propose proposed proposes approach approaches method methods result results show
    shows shown demonstrate demonstrates work study studies novel new existing recent recently
    based using use used achieve achieves achieved significantly significant performance
    effective effectively improve improves improved improving present presents introduce
    introduces extensive experiments experimental furthermore moreover however various""".split()
)


def _stem(word: str) -> str:
    word = word.lower()
    for suffix in ("ies", "es", "s"):
        if word.endswith(suffix) and len(word) > len(suffix) + 3:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def make_label(
    keywords: Sequence[str], max_words: int = 4, skip: frozenset[str] = frozenset()
) -> str:
    """A 2-4 word label from the best keyphrases, skipping phrases in `skip` (too generic) and
    phrases that repeat a word already used.

    Keyphrases are taken in order; the label stops once it has at least 3 words or two phrases.
    """
    chosen: list[str] = []
    used: set[str] = set()
    n_words = 0
    preferred = [k for k in keywords if k not in skip]
    for phrase in preferred or list(keywords):
        tokens = [t for t in re.split(r"\s+", phrase.strip()) if t]
        stems = {_stem(t) for t in re.split(r"[\s-]+", phrase.strip()) if t}
        if not tokens or stems & used or n_words + len(tokens) > max_words:
            continue
        chosen.append(" ".join(tokens))
        used |= stems
        n_words += len(tokens)
        if n_words >= 3 or len(chosen) >= 2:
            break
    if n_words == 0:
        return ""
    label = ", ".join(chosen)
    if n_words == 1:
        label += " papers"
    return label


def generic_phrases(keywords: dict[int, Sequence[str]]) -> frozenset[str]:
    """Keyphrases found among the keywords of more than max(2, a quarter of the) clusters: they
    describe the corpus, not a cluster (e.g. "language models" in a listing about LLMs), so
    labels avoid them. Keywords keep them."""
    counts: dict[str, int] = {}
    for words in keywords.values():
        for word in set(words):
            counts[word] = counts.get(word, 0) + 1
    limit = max(2, len(keywords) / 4)
    return frozenset(w for w, c in counts.items() if c > limit)
