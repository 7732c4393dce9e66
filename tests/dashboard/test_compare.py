"""Compare runs: the flow table and the change rules as data (dashboard/compare.py), the Sankey
as data, and the Compare page on two synthetic runs sharing most paper ids."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import compare, figures, state
from pipeline import contract
from tests.dashboard.apptest_helpers import APP
from tests.run_factory import make_run


def _papers(assignment: dict[str, int], theme: str = "t") -> pd.DataFrame:
    """A paper view with just what compare reads: paper_id, cluster_id, theme_id, published."""
    return pd.DataFrame(
        {
            "paper_id": list(assignment),
            "cluster_id": list(assignment.values()),
            "theme_id": theme,
            "published": pd.Timestamp("2025-01-01"),
        }
    )


def _cluster(prefix: str, n: int, cluster: int) -> dict[str, int]:
    return {f"{prefix}{i}": cluster for i in range(n)}


def test_flow_table_matches_papers_by_id():
    """Flows count papers per (earlier, later) cluster pair; papers in one run only flow from
    or to <NA>, and every paper of both runs is counted once."""
    earlier = _papers({"a": 0, "b": 0, "c": 1, "gone": 1})
    later = _papers({"a": 5, "b": 6, "c": 6, "new": -1})
    flows = compare.flow_table(earlier, later)
    got = {
        (None if pd.isna(e) else int(e), None if pd.isna(t) else int(t)): n
        for e, t, n in flows.itertuples(index=False)
    }
    assert got == {(0, 5): 1, (0, 6): 1, (1, 6): 1, (1, None): 1, (None, -1): 1}
    assert flows["n_papers"].sum() == 5


def test_cluster_changes_follow_the_rules():
    """Planted histories come out as documented: a split, a merge, a cluster gone, a new one,
    one grown, one shrunk and one stable."""
    earlier = {
        **_cluster("s", 20, 0),  # splits into 10 and 11
        **_cluster("m", 10, 1),  # merges with cluster 2 into 12
        **_cluster("n", 10, 2),
        **_cluster("g", 10, 3),  # its papers become unassigned: gone
        **_cluster("up", 10, 4),  # grows to 20
        **_cluster("dn", 20, 5),  # shrinks to 12 (8 papers leave the corpus)
        **_cluster("st", 10, 6),  # stays
    }
    later = {f"s{i}": 10 if i < 10 else 11 for i in range(20)}
    later |= {k: 12 for k in earlier if k[0] in "mn"}
    later |= {k: -1 for k in earlier if k.startswith("g")}
    later |= {k: 14 for k in earlier if k.startswith("up")} | _cluster("upnew", 10, 14)
    later |= {f"dn{i}": 15 for i in range(12)}
    later |= {k: 16 for k in earlier if k.startswith("st")}
    later |= _cluster("fresh", 8, 13)  # new
    flows = compare.flow_table(_papers(earlier), _papers(later))
    changes = compare.cluster_changes(flows)
    got = {
        (c, tuple(e), tuple(t))
        for c, e, t in changes[["change", "earlier_ids", "later_ids"]].values
    }
    assert got == {
        ("split", (0,), (10, 11)),
        ("merged", (1, 2), (12,)),
        ("gone", (3,), ()),
        ("new", (), (13,)),
        ("grown", (4,), (14,)),
        ("shrunk", (5,), (15,)),
        ("stable", (6,), (16,)),
    }
    assert changes["change"].tolist() == [c for c in compare.CHANGES]  # table order
    grown = changes.set_index("change").loc["grown"]
    assert (grown["n_earlier"], grown["n_later"], grown["n_shared"]) == (10, 20, 10)
    assert grown["jaccard"] == pytest.approx(1.0)
    assert compare.change_counts(changes) == dict.fromkeys(compare.CHANGES, 1)


def test_a_small_cluster_absorbed_by_a_larger_one_is_merged():
    """An earlier cluster whose papers all join a much larger continuing cluster counts as
    merged into it, not as gone."""
    earlier = {**_cluster("big", 30, 0), **_cluster("small", 5, 1)}
    later = {k: 7 for k in earlier}
    changes = compare.cluster_changes(compare.flow_table(_papers(earlier), _papers(later)))
    assert changes[["change", "earlier_ids", "later_ids"]].values.tolist() == [
        ["merged", [0, 1], [7]]
    ]


def test_theme_counts_new_papers_and_restrict():
    """Theme counts side by side (themes of either run), the later run's new papers, and both
    runs cut to the papers passing the filters in either."""
    earlier = pd.concat([_papers({"a": 0, "b": 0}, "x"), _papers({"c": 1}, "y")])
    later = pd.concat([_papers({"a": 0}, "x"), _papers({"c": 1, "d": 1}, "z")])
    themes = pd.DataFrame({"theme_id": ["x", "y"], "name": ["X", "Y"]})
    later_themes = pd.DataFrame({"theme_id": ["x", "z"], "name": ["X2", "Z"]})
    counts = compare.theme_counts(earlier, later, themes, later_themes)
    assert counts.set_index("theme_id")[["name", "n_earlier", "n_later", "change"]].to_dict(
        "index"
    ) == {
        "z": {"name": "Z", "n_earlier": 0, "n_later": 2, "change": 2},
        "x": {"name": "X2", "n_earlier": 2, "n_later": 1, "change": -1},
        "y": {"name": "Y", "n_earlier": 1, "n_later": 0, "change": -1},
    }
    assert compare.new_papers(earlier, later)["paper_id"].tolist() == ["d"]
    kept_e, kept_l = compare.restrict(
        earlier, later, np.array([False, True, False]), np.array([False, False, True])
    )
    assert set(kept_e["paper_id"]) == {"b"} and set(kept_l["paper_id"]) == {"d"}


def test_flow_figure_is_a_sankey_with_counts():
    """The Sankey has a node per cluster on each side with its paper count, a link per flow;
    new papers flow in green."""
    flows = pd.DataFrame(
        {"source": ["#0 a", "not in this run"], "target": ["#0 a", "#1 b"], "n_papers": [5, 2]}
    )
    fig = figures.flow_figure(flows).to_dict()
    sankey = fig["data"][0]
    assert sankey["type"] == "sankey"
    assert list(sankey["node"]["label"]) == [
        "#0 a (5)",
        "not in this run (2)",
        "#0 a (5)",
        "#1 b (2)",
    ]
    assert list(sankey["link"]["value"]) == [5, 2]
    assert sankey["link"]["color"][1] == figures.NEW_FLOW


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """An earlier run (60 papers) and a later one (70: the same 60 ids, re-clustered, and 10
    new papers)."""
    folder = tmp_path_factory.mktemp("compare_runs")
    make_run(folder, 60, seed=1, run_id="a-earlier", n_clusters=5)
    make_run(folder, 70, seed=2, run_id="b-later", n_clusters=6)
    for run_id, created in (("a-earlier", "2026-01-01"), ("b-later", "2026-01-08")):
        path = folder / run_id / contract.MANIFEST
        manifest = json.loads(path.read_text())
        manifest["created_at"] = f"{created}T00:00:00+00:00"
        path.write_text(json.dumps(manifest))
    (folder / contract.LATEST).write_text("b-later")
    return folder


def _compare_page(folder, monkeypatch, **params) -> AppTest:
    monkeypatch.setenv("RTE_RUNS_DIR", str(folder))
    at = AppTest.from_file(APP, default_timeout=120)
    for name, value in params.items():
        at.query_params[name] = value
    at.switch_page("app_pages/compare.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _table(at: AppTest, column: str) -> pd.DataFrame:
    """The first table on the page with `column`."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_compare_page_defaults_to_the_latest_two_runs(two_runs, monkeypatch):
    """The page compares the run before the latest with the latest: its Sankey counts every
    paper, its change table follows the rules, theme counts and new papers are exact."""
    at = _compare_page(two_runs, monkeypatch)
    assert at.selectbox(key=state.widget_key(state.COMPARE_EARLIER)).value == "a-earlier"
    assert at.selectbox(key=state.widget_key(state.COMPARE_LATER)).value == "b-later"
    earlier = contract.read_run(two_runs, "a-earlier")
    later = contract.read_run(two_runs, "b-later")
    sankey = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]
    assert sum(sankey["link"]["value"]) == 70  # 60 shared + 10 new
    changes = _table(at, "change")
    assert set(changes["change"]) <= set(compare.CHANGES) and len(changes)
    expected = compare.cluster_changes(
        compare.flow_table(earlier.assignments, later.assignments),
        dict(zip(earlier.clusters["cluster_id"], earlier.clusters["label"], strict=True)),
        dict(zip(later.clusters["cluster_id"], later.clusters["label"], strict=True)),
    )
    assert changes["change"].tolist() == expected["change"].tolist()
    new = _table(at, "title")
    assert set(new["paper_id"]) == set(later.papers["paper_id"]) - set(earlier.papers["paper_id"])
    assert len(new) == 10
    themes = _table(at, "name")
    assert themes["n_later"].sum() == 70 and themes["n_earlier"].sum() == 60
    assert at.metric[1].value == "10"


def test_compare_page_follows_the_url_and_the_theme_filter(two_runs, monkeypatch):
    """Runs chosen in the URL are compared; a theme filter keeps the papers of that theme in
    either run, on both sides."""
    at = _compare_page(two_runs, monkeypatch, before="b-later", after="a-earlier", themes="control")
    assert at.selectbox(key=state.widget_key(state.COMPARE_EARLIER)).value == "b-later"
    earlier = contract.read_run(two_runs, "b-later").assignments
    later = contract.read_run(two_runs, "a-earlier").assignments
    kept = set(earlier.loc[earlier["theme_id"] == "control", "paper_id"]) | set(
        later.loc[later["theme_id"] == "control", "paper_id"]
    )
    sankey = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]
    assert sum(sankey["link"]["value"]) == len(kept)


def test_compare_page_with_one_run_says_what_to_do(tmp_path, monkeypatch):
    """With a single run the page says to build another instead of failing."""
    make_run(tmp_path, 30, seed=0, run_id="only")
    at = _compare_page(tmp_path, monkeypatch)
    assert any("only one run" in i.value for i in at.info)
