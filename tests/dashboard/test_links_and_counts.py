"""AppTest checks of what a link and the counts say: link parameters naming nothing in the run
get a one-line notice; the sidebar counts the reviewed clusters; the Clusters table shows a
review status and an "edited" marker; growth from few papers is empty."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboard import transforms
from pipeline import contract, review
from tests.dashboard.apptest_helpers import open_page, use_small_run


@pytest.fixture
def runs(tmp_path, monkeypatch):
    return use_small_run(tmp_path / "runs", monkeypatch)


def _notice(at) -> str:
    texts = (i.value.replace("\\", "") for i in at.info)
    return " ".join(t for t in texts if "ignored from the link" in t)


@pytest.mark.parametrize(
    ("page", "params", "named"),
    [
        ("app_pages/clusters.py", {"cluster": "999"}, "cluster=999"),
        ("app_pages/map.py", {"paper": "arxiv:nope"}, "paper=arxiv:nope"),
        ("app_pages/overview.py", {"from": "2025-06-01", "to": "2024-06-01"}, "to=2024-06-01"),
        ("app_pages/overview.py", {"clusters": ["1", "999"]}, "clusters=999"),
    ],
)
def test_unknown_link_parameters_get_a_notice(runs, page, params, named):
    """A link naming a cluster or paper that is not in the run, or `to` before `from`, says
    which parameter it ignored (once); the known ones still apply."""
    at = open_page(page, **params)
    assert named in _notice(at)
    at.run()
    assert _notice(at) == ""  # said once: the URL no longer holds it


def test_known_link_parameters_get_no_notice(runs):
    """A link whose parameters all exist shows no notice."""
    assert _notice(open_page("app_pages/clusters.py", cluster="1")) == ""


def test_sidebar_counts_the_reviewed_clusters(runs):
    """After a merge the sidebar says one cluster less; "other" is not counted as a theme."""
    run = contract.read_run(runs, "r1")
    store = review.ReviewStore(review.default_store_path(runs))
    before = open_page("app_pages/overview.py").sidebar.text[0].value
    review.merge(store, review.load_state(store, run), [1, 2], reviewer="Ada")
    after = open_page("app_pages/overview.py").sidebar.text[0].value
    n_clusters = int((run.clusters["cluster_id"] != contract.UNASSIGNED).sum())
    n_named = int((run.themes["theme_id"] != contract.OTHER).sum())
    assert f"{n_clusters} clusters · {n_named} themes" in before
    assert f"{n_clusters - 1} clusters · {n_named} themes" in after


def test_clusters_table_has_status_and_edited_columns(runs):
    """The Clusters table shows each cluster's review status and an "edited" column (not a
    "reviewed" one); the unassigned row has no theme, status or growth."""
    store = review.ReviewStore(review.default_store_path(runs))
    run = contract.read_run(runs, "r1")
    review.set_status(store, review.load_state(store, run), 1, "accepted", reviewer="Ada")
    at = open_page("app_pages/clusters.py")
    table = at.dataframe[0].value
    assert table.set_index("cluster_id").loc[1, "status"] == "accepted"
    config = at.dataframe[0].proto.columns
    assert '"edited"' in config and '"reviewed"' not in config
    unassigned = table[table["cluster_id"] == contract.UNASSIGNED]
    if len(unassigned):
        rec = unassigned.iloc[0]
        assert rec["theme_name"] == "" and pd.isna(rec["growth"]) and rec["status"] == ""
        assert rec["label"] == transforms.UNASSIGNED_LABEL


def test_growth_from_few_papers_reads_few_papers(runs):
    """With 60 papers over two years no theme has 5 papers in each of the last two quarters:
    the Overview table's growth is empty (a number column, so it sorts by growth) and no
    fastest-growing cluster is listed."""
    at = open_page("app_pages/overview.py")
    table = next(d.value for d in at.dataframe if "growth" in d.value.columns)
    assert table["growth"].isna().all() and pd.api.types.is_float_dtype(table["growth"])
    assert any("None: no cluster grew" in c.value for c in at.caption)
    assert not any("+0%" in link.proto.label for link in at.get("page_link"))


def test_growth_compares_the_chosen_date_range(runs):
    """With To = 2025-05-15, growth compares the range's last complete quarters (2025-Q1 vs
    2024-Q4) and names 2025-Q2 as partial, on Overview and Clusters alike."""
    expected = "2025-Q1 vs 2024-Q4; 2025-Q2 is partial (data ends 2025-05-15)"
    for page in ("app_pages/overview.py", "app_pages/clusters.py"):
        at = open_page(page, to="2025-05-15")
        assert any(expected in c.value for c in at.caption), [c.value for c in at.caption]
