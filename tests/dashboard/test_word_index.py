"""The word index of large runs (dashboard/word_index.py) answers exactly as scanning the texts
does, on hostile text, and the dashboard searches through it above WORD_INDEX_ABOVE papers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashboard import data_access, transforms, word_index
from tests.dashboard.test_search import _open
from tests.run_factory import make_run

# Letters, marks and symbols that lower-casing or splitting may treat specially, whitespace of
# every kind the query splitter knows, markup and punctuation.
ALPHABET = list("abcdeßİıΣσςé漢字😀-_.,;:()[]<>&/'\"") + [" ", "  ", "\n", "\t", "\u00a0", "\u2003"]


def _texts(n: int, seed: int) -> pd.Series:
    rng = np.random.default_rng(seed)
    texts = ["".join(rng.choice(ALPHABET, size=rng.integers(0, 60)).tolist()) for _ in range(n - 2)]
    texts += ["", " " * 5]
    return pd.Series(texts, dtype="string[pyarrow]").str.lower()


def _queries(texts: pd.Series, seed: int) -> list[str]:
    """Pieces of the texts' words (what people type), single characters, unknown words and
    two-word queries."""
    rng = np.random.default_rng(seed)
    words = [w for t in texts.head(60) for w in str(t).split()]
    pieces = []
    for w in rng.choice(words, size=40):
        a = int(rng.integers(0, len(w)))
        pieces.append(w[a : a + int(rng.integers(1, 6))])
    return (
        pieces
        + list("ae.ß😀")
        + ["zzzz", "İ", "Σ"]
        + [f"{a} {b}" for a, b in zip(pieces[::2], pieces[1::2], strict=False)]
    )


@pytest.mark.parametrize("chunk", [7, 1000])
def test_the_index_answers_as_the_scan_does(chunk):
    """Every query: the index's papers are exactly the scan's, with parts of 7 papers (many
    parts, a part shorter than the rest) or one part."""
    texts = _texts(300, seed=3)
    index = word_index.WordIndex(texts, chunk=chunk)
    assert index.n_papers == 300 and len(index.parts) == (43 if chunk == 7 else 1)
    for query in _queries(texts, seed=4):
        expected = transforms.search_mask(texts, query)
        got = transforms.search_mask(texts, query, index)
        assert np.array_equal(got, expected), query
    assert transforms.search_mask(texts, "  ", index).all()  # no words: everything


def test_a_word_in_every_paper_or_none():
    texts = pd.Series(["x a", "a", "ba b", ""], dtype="string[pyarrow]")
    index = word_index.WordIndex(texts, chunk=3)
    assert index.contains("a").tolist() == [True, True, True, False]
    assert index.contains("q").tolist() == [False] * 4
    assert index.mask(["a", "b"]).tolist() == [False, False, True, False]


def test_large_runs_are_searched_through_the_index(tmp_path, monkeypatch):
    """Above WORD_INDEX_ABOVE papers the page's word search reads the index (built once per
    run), and finds what the scan finds."""
    make_run(tmp_path, 40, seed=2, run_id="words")
    monkeypatch.setenv("RTE_RUNS_DIR", str(tmp_path))
    monkeypatch.delenv(data_access.EMBEDDER_ENV, raising=False)
    scanned = _open(q="study").metric[0].value
    built, asked = [], []
    index_class, mask_of = word_index.WordIndex, word_index.WordIndex.mask

    class Counted(index_class):
        def __init__(self, *args, **kwargs):
            built.append(1)
            super().__init__(*args, **kwargs)

        def mask(self, words):
            asked.append(words)
            return mask_of(self, words)

    monkeypatch.setattr(word_index, "WordIndex", Counted)
    monkeypatch.setattr(word_index, "WORD_INDEX_ABOVE", 10)
    data_access._word_index.clear()
    data_access._search.clear()  # the scan's answer to "study" is cached
    at = _open(q="study")
    assert at.metric[0].value == scanned == "40"
    at.sidebar.text_input[0].input("study zzzz").run()
    assert at.metric[0].value == "0"
    assert built == [1] and asked == [["study"], ["study", "zzzz"]]
