"""Search by meaning: the match rule as data (dashboard/search.py), ranking on the planted-topic
corpus with the fake embedder (through $RTE_EMBEDDER, the documented seam), the word-search
fallback, "papers like this", and every page filtering by the matches."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import data_access, search, state
from pipeline.embed import paper_text
from tests.dashboard.apptest_helpers import APP
from tests.fake_embedder import FakeEmbedder, planted_corpus
from tests.run_factory import make_run

FAKE = "tests.fake_embedder:FakeEmbedder"


def _unit(rows) -> np.ndarray:
    arr = np.asarray(rows, dtype=np.float32)
    return arr / np.linalg.norm(arr, axis=1, keepdims=True)


def test_by_meaning_keeps_close_papers_and_every_word_match():
    """Papers at least MIN_SIMILARITY and within MAX_BELOW_BEST of the best match, ranked by
    similarity; a word match far from the query still matches, marked literal."""
    emb = _unit([[1, 0], [0.95, 0.31], [0.8, 0.6], [0, 1], [-1, 0.1]])
    literal = np.array([False, False, False, False, True])
    found = search.by_meaning("q", emb, np.array([1.0, 0.0], np.float32), literal)
    assert found.mode == search.MEANING
    assert found.rows.tolist() == [0, 1, 4]  # row 2 (0.80) is more than 0.10 below the best
    assert found.is_literal.tolist() == [False, False, True]
    assert np.all(np.diff(found.similarity) <= 0)
    assert found.mask.tolist() == [True, True, False, False, True]
    assert (found.n_literal, found.n_meaning) == (1, 2)


def test_by_meaning_floor_and_cap():
    """Nothing matches by meaning under MIN_SIMILARITY, and at most `max_matches` do."""
    emb = _unit([[0.2, 1], [0.1, 1], [0.15, 1]])
    none = search.by_meaning("q", emb, np.array([1.0, 0.0], np.float32), np.zeros(3, bool))
    assert len(none.rows) == 0
    many = _unit(np.c_[np.ones(50), np.linspace(0, 0.01, 50)])
    capped = search.by_meaning(
        "q", many, np.array([1.0, 0.0], np.float32), np.zeros(50, bool), max_matches=7
    )
    assert len(capped.rows) == 7


def test_papers_like_puts_the_paper_first():
    """like:<id> parses; a paper's neighbours come after it, each at least MIN_SIMILARITY."""
    assert search.like_paper_id(search.like_query("arxiv:1")) == "arxiv:1"
    assert search.like_paper_id("like:") is None and search.like_paper_id("robots") is None
    emb = _unit([[1, 0], [0.9, 0.1], [0, 1], [0.7, 0.7]])
    found = search.papers_like("like:x", emb, 1, k=2)
    assert found.rows.tolist() == [1, 0, 3]
    assert found.similarity[0] == pytest.approx(1.0)


def test_result_table_keeps_the_papers_the_other_filters_pass():
    """The ranked table lists only matches that pass the other filters, with their ranks; at
    most `limit` of them, with the count of all."""
    papers = pd.DataFrame(
        {
            "title": list("abcd"),
            "date": [""] * 4,
            "cluster_label": ["c"] * 4,
            "theme_name": ["t"] * 4,
            "paper_id": list("ABCD"),
        }
    )
    found = search.SearchResult(
        "q",
        search.MEANING,
        np.array([2, 0, 3]),
        np.array([0.9, 0.8, 0.7], np.float32),
        np.array([True, False, False]),
        4,
    )
    table, n = search.result_table(papers, found, np.array([True, True, False, True]))
    assert table["paper_id"].tolist() == ["A", "D"] and table["rank"].tolist() == [2, 3]
    assert n == 2 and table["similarity"].tolist() == pytest.approx([0.8, 0.7])
    first, n = search.result_table(papers, found, np.ones(4, bool), limit=2)
    assert first["paper_id"].tolist() == ["C", "A"] and first["rank"].tolist() == [1, 2]
    assert n == 3 and first["has_words"].tolist() == [True, False]


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A run of the planted-topic corpus embedded by the fake embedder: (runs folder, topic of
    each paper row)."""
    folder = tmp_path_factory.mktemp("planted_search")
    papers, topics = planted_corpus(n_per_topic=20, seed=3)
    embedder = FakeEmbedder()
    texts = pd.DataFrame(
        {
            "title": [p.title for p in papers],
            "abstract": [p.abstract for p in papers],
            "authors": [list(p.authors) for p in papers],
        }
    )
    make_run(
        folder,
        len(papers),
        seed=0,
        texts=texts,
        run_id="planted",
        include_script_title=False,
        embeddings=embedder.encode([paper_text(p) for p in papers]),
        embedding_model=embedder.model_id,
    )
    return folder, np.array(topics)


def _open(page: str = "app_pages/overview.py", **params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for name, value in params.items():
        at.query_params[name] = value
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _results(at: AppTest) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if "has_words" in d.value.columns)


@pytest.fixture
def fake_search(planted, monkeypatch):
    folder, topics = planted
    monkeypatch.setenv("RTE_RUNS_DIR", str(folder))
    monkeypatch.setenv(data_access.EMBEDDER_ENV, FAKE)
    return topics


def test_search_ranks_the_planted_topic_by_meaning(fake_search, planted):
    """'dexterous' finds the robot papers best first and marks those holding the word; with a
    word no paper holds ('dexterous hands') they are all found by meaning; the Overview counts
    exactly the matches."""
    topics = fake_search
    robot = topics == "robot"
    papers = pd.read_parquet(planted[0] / "planted" / "papers.parquet")
    text = (papers["title"] + " " + papers["abstract"]).str.lower()
    for query in ("dexterous", "dexterous hands"):
        at = _open(q=query)
        table = _results(at)
        rows = [int(pid.split(".")[1]) for pid in table["paper_id"]]  # arxiv:2501.<row>
        assert (topics[rows] == "robot").mean() >= 0.95  # precision
        assert robot[rows].sum() >= 0.9 * robot.sum()  # recall
        assert table["similarity"].is_monotonic_decreasing
        words = query.split()
        assert table["has_words"].tolist() == [all(w in text[r] for w in words) for r in rows]
        assert at.metric[0].value == str(len(table))
        assert any("more by meaning" in c.value for c in at.sidebar.caption)
    assert not table["has_words"].any()  # 'hands' is in no paper: found by meaning alone


def test_every_page_filters_by_the_matches(fake_search):
    """The clusters table and the map show exactly the papers the search matched."""
    at = _open(q="gripper teleoperation")
    n_found = len(_results(at))
    assert n_found > 0
    at = _open("app_pages/clusters.py", q="gripper teleoperation")
    summary = next(d.value for d in at.dataframe if "n_papers" in d.value.columns)
    assert int(summary["n_papers"].sum()) == n_found
    at = _open("app_pages/map.py", q="gripper teleoperation")
    assert any(f"Showing {n_found:,} of" in c.value for c in at.caption)


def test_query_vectors_are_computed_once_per_query(fake_search):
    """A repeated query reuses its cached vector: the model encodes each query text once."""
    _open(q="forgetting replay")
    model = data_access._query_model(FAKE).result()
    before = model.n_encoded
    _open("app_pages/timelines.py", q="forgetting replay")
    _open("app_pages/map.py", q="forgetting replay")
    assert model.n_encoded == before


def test_papers_like_this_is_one_click(fake_search):
    """'Papers like this' on a paper filters every page to it and its nearest papers, the
    paper first, named in the filter line."""
    topics = fake_search
    row = int(np.flatnonzero(topics == "continual")[0])
    paper_id = f"arxiv:2501.{row:05d}"
    at = _open("app_pages/map.py", paper=paper_id)
    at.button(key=state.keyed(state.LIKE_THIS, row)).click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.query_params["q"] in (f"like:{paper_id}", [f"like:{paper_id}"])
    table = _results(at)
    assert table["paper_id"].iloc[0] == paper_id
    assert 1 < len(table) <= search.LIKE_NEIGHBOURS + 1
    rows = [int(pid.split(".")[1]) for pid in table["paper_id"]]
    assert (topics[rows] == "continual").mean() >= 0.9
    assert any("papers like" in c.value for c in at.caption)


def test_a_run_without_a_loadable_model_is_searched_by_words(tmp_path, monkeypatch):
    """A run whose model the dashboard cannot load (here 'synthetic') falls back to the word
    search with a one-line note; the model named by $RTE_EMBEDDER is refused when it is not
    the run's own."""
    make_run(tmp_path, 40, seed=2, run_id="words")
    monkeypatch.setenv("RTE_RUNS_DIR", str(tmp_path))
    monkeypatch.delenv(data_access.EMBEDDER_ENV, raising=False)
    at = _open(q="study")
    notes = [c.value for c in at.sidebar.caption if "words only" in c.value]
    assert len(notes) == 1 and "synthetic" in notes[0]
    assert at.metric[0].value == "40"  # every generated title holds "study"
    monkeypatch.setenv(data_access.EMBEDDER_ENV, FAKE)
    at = _open(q="study")
    assert any("not this run" in c.value for c in at.sidebar.caption)


def test_runs_of_the_bundled_model_at_any_window_are_searched_by_meaning():
    """A run embedded with MiniLM cut at 128 tokens is searched with the bundled model too; a run
    of an unknown local model is searched by words; $RTE_EMBEDDER wins."""
    from dashboard.data_access import BUNDLED, _model_spec
    from pipeline.embed import BUNDLED_MODEL_ID

    assert _model_spec(BUNDLED_MODEL_ID, None) == BUNDLED
    assert _model_spec(f"{BUNDLED_MODEL_ID}@128tok", None) == BUNDLED
    assert _model_spec("local:my-model", None) is None
    assert _model_spec("local:my-model", "tests.fake_embedder:FakeEmbedder").startswith("tests.")


def test_a_long_results_list_is_cut_and_says_so(tmp_path, monkeypatch):
    """The results list shows the first RESULTS_LISTED matches and says how many there are; the
    filters keep every match."""
    make_run(tmp_path, 40, seed=2, run_id="words")
    monkeypatch.setenv("RTE_RUNS_DIR", str(tmp_path))
    monkeypatch.delenv(data_access.EMBEDDER_ENV, raising=False)
    monkeypatch.setattr(search, "RESULTS_LISTED", 5)
    at = _open(q="study")
    assert len(_results(at)) == 5 and at.metric[0].value == "40"
    assert "similarity" not in _results(at).columns  # by words only: no empty column
    assert any("first 5 are listed" in c.value and "all 40" in c.value for c in at.caption)
