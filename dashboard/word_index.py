"""Word search on large runs without reading every text: an inverted index of each paper's
search text (pure numpy/pyarrow, no Streamlit).

The word search (`transforms.search_mask`) keeps the papers whose lower-cased search text
contains every query word as a substring. A query word holds no whitespace, so it lies inside
one space-separated token of a text whenever the text contains it: the papers containing a word
are the union of the postings of the distinct tokens that contain it. The index keeps, per part
of at most CHUNK papers, its distinct tokens (searched with the same Arrow substring kernel as
the scan) and for each the papers holding it; a query reads the tokens (a few MB) instead of
the texts (about 1 KB per paper). The answer is the scan's, exactly (a test checks it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# Runs with at least this many papers search through the index; below, scanning the texts takes
# under about 0.3 s per word here and the index's build (about 5 s per 100 MB of text) does not
# pay back.
WORD_INDEX_ABOVE = 200_000
# Papers per part of the index: bounds the memory the build takes (its sort holds every token
# occurrence of one part).
CHUNK = 100_000


@dataclass(frozen=True)
class _Part:
    start: int  # the first paper row of the part
    tokens: pa.Array  # its distinct space-separated tokens
    bounds: np.ndarray  # int64: the papers holding tokens[i] are rows[bounds[i]:bounds[i + 1]]
    rows: np.ndarray  # int32 paper rows, relative to `start`, ascending per token


def _part(texts: pa.Array, start: int) -> _Part:
    lists = pc.split_pattern(texts.fill_null(""), " ")
    per_text = pc.list_value_length(lists).to_numpy(zero_copy_only=False)
    encoded = pc.dictionary_encode(lists.flatten())
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    rows = np.repeat(np.arange(len(texts), dtype=np.int32), per_text)
    order = np.argsort(codes, kind="stable")  # by token, rows ascending within each
    codes, rows = codes[order], rows[order]
    first = np.r_[True, (codes[1:] != codes[:-1]) | (rows[1:] != rows[:-1])]  # once per paper
    codes, rows = codes[first], rows[first]
    bounds = np.searchsorted(codes, np.arange(len(encoded.dictionary) + 1)).astype(np.int64)
    return _Part(start, encoded.dictionary, bounds, rows)


class WordIndex:
    """The inverted index of a run's search texts (one lower-cased string per paper row)."""

    def __init__(self, search_text: pd.Series, chunk: int = CHUNK):
        texts = pa.chunked_array(
            [pa.array(search_text, type=pa.large_string(), from_pandas=True)]
        ).combine_chunks()
        self.n_papers = len(texts)
        self.parts = [
            _part(texts.slice(start, chunk), start) for start in range(0, len(texts), chunk)
        ]

    def contains(self, word: str) -> np.ndarray:
        """Boolean mask over the papers: True where the text contains `word` (no whitespace)."""
        mask = np.zeros(self.n_papers, dtype=bool)
        for part in self.parts:
            hit = np.flatnonzero(
                pc.match_substring(part.tokens, word).to_numpy(zero_copy_only=False)
            )
            starts, sizes = part.bounds[hit], part.bounds[hit + 1] - part.bounds[hit]
            # Every position of the matched tokens' postings, without a Python loop over them.
            at = np.repeat(starts - np.cumsum(sizes) + sizes, sizes) + np.arange(sizes.sum())
            mask[part.start + part.rows[at]] = True
        return mask

    def mask(self, words: list[str]) -> np.ndarray:
        """Boolean mask over the papers: True where the text contains every word."""
        mask = np.ones(self.n_papers, dtype=bool)
        for word in words:
            mask &= self.contains(word)
        return mask
