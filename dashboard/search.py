"""Search by meaning and by words over a run's papers (pure numpy/pandas, no Streamlit, no model).

In: unit-length paper embeddings (rows in papers order), a query's unit vector from the run's
embedding model (or a paper's own row, for "papers like this") and the literal word matches.
Out: a `SearchResult`, the matching rows best first, which decides the search filter's mask.

The match rule: a paper matches by meaning when its cosine similarity to the query is at least
MIN_SIMILARITY, at most MAX_BELOW_BEST below the best paper's, and it is among the
MAX_MEANING_MATCHES most similar; a paper containing every query word (the word search) always
matches. Everything matched is ranked by similarity. "like:<paper_id>" asks for that paper and
its LIKE_NEIGHBOURS nearest papers at MIN_SIMILARITY or more.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MIN_SIMILARITY = 0.25  # cosine floor: below it MiniLM's neighbours are unrelated (0.1-0.2)
MAX_BELOW_BEST = 0.10  # on a focused corpus a broad query is close to most of it: keep the best
MAX_MEANING_MATCHES = 200  # papers found by meaning alone, at most (word matches come on top)
LIKE_PREFIX = "like:"  # query form of "papers like this": like:<paper_id>
LIKE_NEIGHBOURS = 25  # nearest papers a "like" query adds to the paper itself
MEANING, WORDS, LIKE = "meaning", "words", "like"  # how a query was searched
RESULTS_LISTED = 1_000  # matches the results list shows, best first (the map and filters: all)


@dataclass(frozen=True)
class SearchResult:
    """The papers a query matches, best first.

    `rows`: int64 paper rows (positions in papers order); `similarity`: float32 cosine of each
    to the query (NaN when searched by words only); `is_literal`: the paper contains every
    query word. `note` says in one line how the query was searched (shown under the box).
    """

    query: str
    mode: str  # MEANING, WORDS or LIKE
    rows: np.ndarray
    similarity: np.ndarray
    is_literal: np.ndarray
    n_papers: int  # papers in the run: the length of `mask`
    note: str = ""

    @property
    def mask(self) -> np.ndarray:
        """Boolean mask over the run's papers: True for the matches."""
        out = np.zeros(self.n_papers, dtype=bool)
        out[self.rows] = True
        return out

    @property
    def n_literal(self) -> int:
        return int(self.is_literal.sum())

    @property
    def n_meaning(self) -> int:
        """Matches found by meaning only (they lack some query word)."""
        return len(self.rows) - self.n_literal


def like_paper_id(query: str) -> str | None:
    """The paper id of a "papers like this" query (`like:<paper_id>`), else None."""
    query = query.strip()
    if query.startswith(LIKE_PREFIX) and len(query) > len(LIKE_PREFIX):
        return query[len(LIKE_PREFIX) :].strip()
    return None


def like_query(paper_id: str) -> str:
    """The search text that filters to the papers like `paper_id`."""
    return f"{LIKE_PREFIX}{paper_id}"


def by_words(query: str, literal: np.ndarray, reason: str) -> SearchResult:
    """The word search alone: the papers holding every query word, in papers order; `reason`
    says why not by meaning (in the note)."""
    rows = np.flatnonzero(literal).astype(np.int64)
    return SearchResult(
        query=query,
        mode=WORDS,
        rows=rows,
        similarity=np.full(len(rows), np.nan, dtype=np.float32),
        is_literal=np.ones(len(rows), dtype=bool),
        n_papers=len(literal),
        note=f"Searched by words only ({reason}): {len(rows):,} papers with every word.",
    )


def by_meaning(
    query: str,
    embeddings: np.ndarray,
    query_vector: np.ndarray,
    literal: np.ndarray,
    *,
    min_similarity: float = MIN_SIMILARITY,
    max_below_best: float = MAX_BELOW_BEST,
    max_matches: int = MAX_MEANING_MATCHES,
) -> SearchResult:
    """Rank papers by cosine similarity of their (unit) embeddings to the (unit) query vector
    and keep the matches of the rule in the module docstring; word matches always stay."""
    sims = np.asarray(embeddings @ np.asarray(query_vector, dtype=embeddings.dtype))
    sims = sims.astype(np.float32, copy=False)
    literal = np.asarray(literal, dtype=bool)
    meaning = np.zeros(len(sims), dtype=bool)
    if len(sims):
        cut = max(min_similarity, float(sims.max()) - max_below_best)
        above = np.flatnonzero(sims >= cut)
        if len(above) > max_matches:
            above = above[np.argpartition(-sims[above], max_matches - 1)[:max_matches]]
        meaning[above] = True
    rows = np.flatnonzero(meaning | literal)
    rows = rows[np.argsort(-sims[rows], kind="stable")].astype(np.int64)
    n_literal, n_meaning = int(literal.sum()), int((meaning & ~literal).sum())
    return SearchResult(
        query=query,
        mode=MEANING,
        rows=rows,
        similarity=sims[rows],
        is_literal=literal[rows],
        n_papers=len(sims),
        note=f"{n_literal:,} with every word, {n_meaning:,} more by meaning; best first.",
    )


def papers_like(
    query: str,
    embeddings: np.ndarray,
    row: int,
    *,
    k: int = LIKE_NEIGHBOURS,
    min_similarity: float = MIN_SIMILARITY,
) -> SearchResult:
    """Paper `row` and its `k` nearest papers (cosine at least `min_similarity`), best first."""
    sims = np.asarray(embeddings @ embeddings[row]).astype(np.float32, copy=False)
    sims[row] = np.inf  # the paper itself comes first
    k = min(k + 1, len(sims))
    top = np.argpartition(-sims, k - 1)[:k]
    top = top[(sims[top] >= min_similarity)]
    top = top[np.argsort(-sims[top], kind="stable")].astype(np.int64)
    sims[row] = 1.0
    return SearchResult(
        query=query,
        mode=LIKE,
        rows=top,
        similarity=sims[top],
        is_literal=np.zeros(len(top), dtype=bool),
        n_papers=len(sims),
        note=f"The paper and its {len(top) - 1} nearest papers by embedding; best first.",
    )


def result_table(
    papers: pd.DataFrame, result: SearchResult, shown: np.ndarray, limit: int | None = None
) -> tuple[pd.DataFrame, int]:
    """The ranked matches that pass the other filters (`shown`, a mask over `papers`), for a
    results list: rank, similarity, has_words (every query word is in the paper), title, date,
    cluster, theme, paper_id; the first `limit` of them (None: all), and how many there are."""
    keep = np.asarray(shown, dtype=bool)[result.rows]
    ranks = np.flatnonzero(keep)[:limit]
    rows = result.rows[ranks]
    return pd.DataFrame(
        {
            "rank": ranks + 1,
            "similarity": np.round(result.similarity[ranks].astype(float), 3),
            "has_words": result.is_literal[ranks],
            # Column by column: the rows of five columns, not a copy of every column's.
            "title": papers["title"].to_numpy()[rows],
            "date": papers["date"].to_numpy()[rows],
            "cluster": papers["cluster_label"].to_numpy()[rows],
            "theme": papers["theme_name"].to_numpy()[rows],
            "paper_id": papers["paper_id"].to_numpy()[rows],
        }
    ), int(keep.sum())
