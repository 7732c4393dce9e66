"""Figure builders tested as data (fig.to_dict())."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from dashboard import figures, layers, palette, transforms
from pipeline import contract, derive
from tests.dashboard.apptest_helpers import trace_array
from tests.run_factory import make_run


@pytest.fixture(scope="module")
def papers(tmp_path_factory) -> pd.DataFrame:
    folder = tmp_path_factory.mktemp("runs")
    make_run(folder, 150, seed=5)
    return transforms.paper_view(contract.read_run(folder).tables)


arr = trace_array


def _points(fig: dict, name: str | None = None) -> int:
    return sum(
        len(arr(t["x"]))
        for t in fig["data"]
        if t["type"] == "scattergl" and (name is None or t["name"] == name)
    )


def test_map_draws_every_paper_once(papers):
    """Every paper is one WebGL point; customdata holds its row; unassigned papers are muted."""
    fig = figures.map_figure(layers.map_layers(papers)).to_dict()
    assert _points(fig) == len(papers)
    rows = np.concatenate([arr(t["customdata"]) for t in fig["data"] if t["type"] == "scattergl"])
    assert sorted(rows.tolist()) == list(range(len(papers)))
    unassigned = next(t for t in fig["data"] if t["name"] == layers.UNASSIGNED_NAME)
    assert unassigned["marker"]["color"] == palette.MUTED
    assert len(arr(unassigned["x"])) == int((papers["cluster_id"] == -1).sum())


def test_map_draws_each_layer_as_decided(papers):
    """Each decided layer becomes one trace with its points, colour, size and opacity, in
    order; the context layer has no hover, the others show their hover text."""
    shown = (papers["theme_id"] == "control").to_numpy()
    decided = layers.map_layers(papers, shown=shown, color_by="cluster")
    fig = figures.map_figure(decided).to_dict()
    assert [t["name"] for t in fig["data"]] == [lay.name for lay in decided.points]
    for trace, lay in zip(fig["data"], decided.points, strict=True):
        assert arr(trace["customdata"]).tolist() == lay.rows.tolist()
        assert arr(trace["x"]).tolist() == pytest.approx(lay.map_x.tolist())
        assert trace["marker"]["size"] == lay.size
        assert trace["marker"]["opacity"] == lay.opacity
        if isinstance(lay.color, str):
            assert trace["marker"]["color"] == lay.color
        else:
            assert arr(trace["marker"]["color"]).tolist() == lay.color.tolist()
        if lay.hover is None:
            assert trace["hoverinfo"] == "skip" and "hovertext" not in trace
        else:
            assert list(trace["hovertext"]) == list(lay.hover)
        assert trace.get("showlegend", True) == lay.in_legend


def test_map_draws_labels_as_escaped_annotations(papers):
    """Cluster labels are annotations at their decided positions, with their escaped text."""
    decided = layers.map_layers(papers.assign(cluster_label="<i>x</i>"), labels=True)
    fig = figures.map_figure(decided).to_dict()
    notes = fig["layout"]["annotations"]
    assert [a["x"] for a in notes] == pytest.approx(decided.labels["map_x"].tolist())
    assert [a["y"] for a in notes] == pytest.approx(decided.labels["map_y"].tolist())
    assert {a["text"] for a in notes} == {"&lt;i&gt;x&lt;/i&gt;"}


def test_map_labels_never_box_over_filtered_matches(papers):
    """With filters on, the labels lose their opaque box (annotations sit above WebGL points),
    so matches under a label stay visible; without filters they keep it."""
    shown = (papers["theme_id"] == "control").to_numpy()
    boxes = {
        is_filtered: {
            a["bgcolor"]
            for a in figures.map_figure(
                layers.map_layers(papers, shown=shown if is_filtered else None, labels=True)
            ).to_dict()["layout"]["annotations"]
        }
        for is_filtered in (False, True)
    }
    assert boxes[False] == {figures.LABEL_BOX}
    assert boxes[True] == {figures.LABEL_BOX_FILTERED}
    assert figures.LABEL_BOX_FILTERED.endswith(",0)")  # fully transparent


def test_map_rings_the_chosen_paper(papers):
    """The chosen paper gets one ring trace at its position, without hover."""
    fig = figures.map_figure(layers.map_layers(papers, selected_row=3)).to_dict()
    ring = [t for t in fig["data"] if t["name"] == "chosen paper"]
    assert len(ring) == 1 and ring[0]["hoverinfo"] == "skip"
    assert arr(ring[0]["x"]).tolist() == pytest.approx([papers.loc[3, "map_x"]])


def test_map_zooms_to_a_cluster(papers):
    """A decided zoom window sets the axes to that cluster's extent."""
    decided = layers.map_layers(papers, highlight_cluster=1)
    fig = figures.map_figure(decided).to_dict()
    members = papers[papers["cluster_id"] == 1]
    x0, x1 = fig["layout"]["xaxis"]["range"]
    assert [x0, x1] == list(decided.window[:2])
    assert x0 < members["map_x"].min() and x1 > members["map_x"].max()
    assert x1 - x0 < papers["map_x"].max() - papers["map_x"].min()


def _bands(shape: dict) -> list[tuple[float, float]]:
    """The (x0, x1) category positions of the rectangles in a band path shape."""
    pairs = re.findall(r"M([-\d.]+),0 L([-\d.]+),0", shape["path"])
    return [(float(a), float(b)) for a, b in pairs]


def test_timeline_draws_thousands_of_sparse_periods_as_one_shape():
    """3,000 sparse periods, alternating with dense ones, make one path shape of 3,000
    rectangles, not 3,000 shapes (Plotly re-checks every shape on each one added)."""
    periods = [f"{1000 + i // 4:04d}-Q{i % 4 + 1}" for i in range(6000)]
    sparse = np.arange(6000) % 2 == 0
    counts = pd.DataFrame(
        {
            "period": periods,
            "group": "a",
            "n_papers": np.where(sparse, 1, 9),
            "n_period_total": np.where(sparse, 1, 9),
            "share": 1.0,
            "is_sparse": sparse,
            "is_partial": False,
        }
    )
    fig = figures.timeline_figure(counts).to_dict()
    shapes = fig["layout"]["shapes"]
    assert len(shapes) == 1 and len(_bands(shapes[0])) == 3000


def test_timeline_marks_sparse_periods(papers):
    """Sparse periods get a grey band and hollow markers; others solid."""
    counts = transforms.timeline_counts(papers, "month", "theme_id")
    fig = figures.timeline_figure(counts).to_dict()
    sparse = counts.loc[counts["is_sparse"], "period"].drop_duplicates()
    shapes = [s for s in fig["layout"].get("shapes", []) if s.get("name") == "sparse period"]
    assert len(shapes) == 1  # one path shape, however many periods
    positions = {i for a, b in _bands(shapes[0]) for i in range(int(a + 0.5), int(b + 0.5))}
    periods = counts["period"].drop_duplicates().tolist()
    assert {periods[i] for i in positions} == set(sparse)
    hollow = set(sparse) | set(counts.loc[counts["is_partial"], "period"])
    symbols = fig["data"][0]["marker"]["symbol"]
    for period, symbol in zip(periods, symbols, strict=True):
        assert (symbol == "circle-open") == (period in hollow)


def test_timeline_marks_a_partial_last_period():
    """A period the data stops inside gets a labelled band over exactly that period."""
    dates = ["2026-02-10"] * 6 + ["2026-05-10"] * 6 + ["2026-08-20"] * 6
    frame = pd.DataFrame({"published": pd.to_datetime(dates), "theme_id": "a"})
    frame["quarter"] = derive.period_labels(frame["published"], "quarter")
    fig = figures.timeline_figure(transforms.timeline_counts(frame, "quarter")).to_dict()
    partial = [s for s in fig["layout"]["shapes"] if s.get("name") == figures.PARTIAL_NOTE]
    assert [_bands(s) for s in partial] == [[(1.5, 2.5)]]  # 2026-Q3, third category
    notes = [a for a in fig["layout"]["annotations"] if a.get("text") == figures.PARTIAL_NOTE]
    assert [a["x"] for a in notes] == [2]
    assert fig["data"][0]["marker"]["symbol"] == ["circle", "circle", "circle-open"]
    complete = frame.assign(published=frame["published"].where(frame["quarter"] != "2026-Q3"))
    complete.loc[complete["published"].isna(), "published"] = pd.Timestamp("2026-09-30")
    fig = figures.timeline_figure(transforms.timeline_counts(complete, "quarter")).to_dict()
    assert not [s for s in fig["layout"].get("shapes", []) if s.get("name") == "partial period"]


def test_timeline_styles_and_measures(papers):
    """Stacked areas use one stack group; share mode plots shares with a percent axis."""
    counts = transforms.timeline_counts(papers, "quarter", "theme_id")
    area = figures.timeline_figure(counts, style="area", measure="share").to_dict()
    assert {t.get("stackgroup") for t in area["data"]} == {"one"}
    assert area["layout"]["yaxis"]["tickformat"] == ".0%"
    first = area["data"][0]
    group = counts["group"].drop_duplicates().sort_values().iloc[0]
    assert arr(first["y"]).tolist() == pytest.approx(
        counts.loc[counts["group"] == group, "share"].tolist()
    )
    lines = figures.timeline_figure(counts).to_dict()
    assert len(lines["data"]) == counts["group"].nunique()
    assert all(t["mode"] == "lines+markers" for t in lines["data"])


def test_theme_sizes_and_bars(papers):
    """Theme bars carry each theme's size; keyword and mix bars keep the given order, top first."""
    themes = pd.DataFrame({"theme_id": sorted(papers["theme_id"].unique())})
    themes["name"] = themes["theme_id"]
    summary = transforms.theme_summary(papers, themes)
    fig = figures.theme_sizes_figure(summary).to_dict()
    sizes = dict(
        zip(arr(fig["data"][0]["y"]).tolist(), arr(fig["data"][0]["x"]).tolist(), strict=True)
    )
    assert sizes == dict(zip(summary["name"], summary["n_papers"], strict=True))
    kw = pd.DataFrame({"keyword": ["a<b", "c"], "n_papers": [5, 2]})
    bars = figures.keyword_figure(kw).to_dict()["data"][0]
    assert arr(bars["y"]).tolist() == ["c", "a&lt;b"] and arr(bars["x"]).tolist() == [2, 5]


def test_count_axes_tick_whole_papers(papers):
    """Count axes tick whole numbers (no 0.2-paper ticks); with small counts, one per paper."""
    counts = transforms.timeline_counts(papers.head(3), "quarter")
    fig = figures.timeline_figure(counts).to_dict()
    assert fig["layout"]["yaxis"]["tickformat"] == ",d" and fig["layout"]["yaxis"]["dtick"] == 1
    share = figures.timeline_figure(counts, measure="share").to_dict()
    assert share["layout"]["yaxis"]["tickformat"] == ".0%"
    assert figures.count_axis(500) == {"tickformat": ",d"}


def test_chart_notes_sit_inside_the_plot():
    """The "partial period" and sparse-period notes are inside the plot area (y <= 1, anchored
    at the top), where neither the chart toolbar nor an exported title covers them."""
    counts = pd.DataFrame(
        {
            "period": ["2024-Q1", "2024-Q2"],
            "group": ["a", "a"],
            "n_papers": [1, 2],
            "n_period_total": [1, 2],
            "share": [1.0, 1.0],
            "is_sparse": [True, False],
            "is_partial": [False, True],
        }
    )
    notes = figures.timeline_figure(counts).to_dict()["layout"]["annotations"]
    assert len(notes) == 2
    assert all(n["yref"] == "paper" and n["y"] <= 1 and n["yanchor"] == "top" for n in notes)
