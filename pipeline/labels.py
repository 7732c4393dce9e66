"""Group labels: reads the texts of a corpus, a grouping of them (clusters, generated themes) and
optional keyphrases per group; produces a short noun phrase per group that a person would write
and that really occurs in the group's papers. Pure text rules, no model.

A label is a 2-5 word phrase that (ignoring case and hyphens) occurs in at least
`min(3, 10% of the group)` of the group's papers, chosen among noun-phrase candidates (maximal
runs of content words between stop words and punctuation, and their endings, which is where an
English noun phrase keeps its head) by how much more common it is in the group than in the
corpus.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

# Words that say a text is a paper, not what it is about.
ACADEMIC_STOP_WORDS = frozenset(
    """paper propose proposed proposes approach approaches method methods result results show
    shows shown demonstrate demonstrates work study studies novel new existing recent recently
    based using use used achieve achieves achieved significantly significant performance
    effective effectively improve improves improved improving present presents introduce
    introduces extensive experiments experimental furthermore moreover however various""".split()
)
# Words a noun phrase does not end with (adjectives and verbs that pass the stop list).
_BAD_ENDINGS = frozenset(
    """large small efficient effective robust scalable general generalizable better best strong
    high low unified simple fast novel open multimodal visual based via towards toward beyond
    enhanced enhancing improving learning-based driven aware guided free""".split()
)
_STOP = ENGLISH_STOP_WORDS | ACADEMIC_STOP_WORDS
_SPLIT = re.compile(r"[^0-9a-z\s-]+|\s-\s|--")  # punctuation ends a run; inner hyphens do not
MIN_WORDS, MAX_WORDS = 2, 5


def phrase_key(text: str) -> str:
    """The form in which phrases are compared: lower case, hyphens as spaces, one space."""
    return " ".join(re.sub(r"[-_/]", " ", text.lower()).split())


def _runs(text: str) -> list[list[str]]:
    """Maximal runs of content words (no stop word, number or single letter) of a text."""
    runs: list[list[str]] = []
    for part in _SPLIT.split(text.lower()):
        run: list[str] = []
        for word in [*part.replace("-", " ").split(), ""]:
            if word and word not in _STOP and not word.isdigit() and len(word) > 1:
                run.append(word)
            elif run:
                runs.append(run)
                run = []
    return runs


def _run_text(text: str) -> str:
    """A text as its runs, each closed by " |", so a phrase that ends a run ends at a bar."""
    return " " + " ".join(" ".join(run) + " |" for run in _runs(text)) + " "


def candidate_phrases(text: str) -> set[str]:
    """Noun-phrase candidates of a text, in `phrase_key` form: every ending of 2-5 words of a
    maximal run of content words (between stop words or punctuation)."""
    found: set[str] = set()
    for run in _runs(text):
        for start in range(max(0, len(run) - MAX_WORDS), len(run) - MIN_WORDS + 1):
            if run[-1] not in _BAD_ENDINGS:
                found.add(" ".join(run[start:]))
    return found


def _surface(phrase: str, titles: Sequence[str]) -> str:
    """The phrase as the group's titles write it (keeps "RLHF", "LLM"), else as given."""
    pattern = re.compile(r"\b" + r"[\s-]+".join(map(re.escape, phrase.split())) + r"\b", re.I)
    forms = Counter(m.group(0) for t in titles for m in pattern.finditer(t))
    if not forms:
        return phrase
    words = re.split(r"(\s+|-)", forms.most_common(1)[0][0])
    # acronyms and mixed case ("LLM", "RLHF", "3D", "GPT-4o") stay; title case goes
    return "".join(
        w if sum(c.isupper() for c in w) > 1 or w[1:] != w[1:].lower() else w.lower() for w in words
    )


def min_support(size: int) -> int:
    """Papers of a group a label must occur in: 3, or 10% of a smaller group (at least 1)."""
    return max(1, min(3, math.ceil(0.1 * size)))


def group_labels(
    texts: Sequence[str],
    groups: Sequence[int],
    titles: Sequence[str] | None = None,
    keyphrases: dict[int, Sequence[str]] | None = None,
) -> dict[int, str]:
    """A label per group id (ids < 0 are skipped): the most distinctive candidate phrase that
    occurs in `min_support` of the group's texts and no better-scoring group took; "" when none
    does.

    `texts[i]` (title and abstract) belongs to `groups[i]`; `titles` give candidates and the
    label's spelling (default: `texts`); `keyphrases` (e.g. BERTopic keywords) add candidates.
    A text holds a phrase where the phrase ends a run of content words (its head noun).
    Distinctiveness = share of the group's texts holding the phrase x log(1 + n / texts holding
    it in the corpus), 15% more per word beyond two; a phrase that is a candidate in more than a
    quarter of the groups (and at least 3) describes the corpus, not a group, and counts half.
    """
    import ahocorasick

    titles = list(titles if titles is not None else texts)
    members: dict[int, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        if int(g) >= 0:
            members[int(g)].append(i)
    candidates: dict[int, set[str]] = {}
    for g, rows in members.items():
        found: set[str] = set()
        for i in rows:
            found |= candidate_phrases(titles[i])
        for phrase in (keyphrases or {}).get(g, ()):
            key = phrase_key(phrase)
            if MIN_WORDS <= len(key.split()) <= MAX_WORDS and key.split()[-1] not in _BAD_ENDINGS:
                found.add(key)
        candidates[g] = found
    every = set().union(*candidates.values()) if candidates else set()
    if not every:
        return dict.fromkeys(members, "")
    automaton = ahocorasick.Automaton()
    for phrase in every:
        automaton.add_word(f" {phrase} |", phrase)  # counted where it ends a run, as its head
    automaton.make_automaton()
    corpus_df: Counter[str] = Counter()
    group_df: dict[int, Counter[str]] = defaultdict(Counter)
    for i, text in enumerate(texts):
        hits = {p for _, p in automaton.iter(_run_text(text))}
        corpus_df.update(hits)
        if int(groups[i]) >= 0:
            group_df[int(groups[i])].update(hits)
    spread = Counter(p for found in candidates.values() for p in found)
    generic_at = max(3, len(candidates) / 4)
    n = len(texts)
    ranked: dict[int, list[tuple[float, str]]] = {}
    for g, rows in members.items():
        need = min_support(len(rows))
        scored = []
        for phrase in candidates[g]:
            df = group_df[g][phrase]
            if df < need:
                continue
            score = df / len(rows) * math.log(1 + n / corpus_df[phrase])
            score *= 0.5 if spread[phrase] > generic_at else 1.0
            score *= 1 + 0.15 * (phrase.count(" ") + 1 - MIN_WORDS)  # say more when as true
            scored.append((-score, phrase))
        ranked[g] = sorted(scored)  # best first; ties by phrase
    # Labels differ between groups: groups choose in the order of their best score, each taking
    # its best phrase not yet taken (the taken one only when it has no other).
    order = sorted((r[0] + (g,) for g, r in ranked.items() if r), key=lambda t: (t[0], t[2]))
    taken: set[str] = set()
    labels = dict.fromkeys(members, "")
    for _, _, g in order:
        options = [p for _, p in ranked[g]]
        best = next((p for p in options if p not in taken), options[0])
        taken.add(best)
        labels[g] = _surface(best, [titles[i] for i in members[g]])
    return labels
