"""The large map's density layer: the histogram counts every paper once, the drawn points are
capped, stratified by cluster and include every filtered match that fits, a box or lasso
covers the papers inside it, and the Map page switches to the density above the threshold only
(the threshold and the cap are lowered here, so a small run takes the large-map path)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dashboard import density, figures, layers, state, transforms
from pipeline import contract
from tests.dashboard.apptest_helpers import open_page, trace_array, use_small_run
from tests.run_factory import make_run

THRESHOLD, CAP = 30, 20  # the small run (60 papers) is "large" with these


@pytest.fixture(scope="module")
def papers(tmp_path_factory) -> pd.DataFrame:
    folder = tmp_path_factory.mktemp("runs")
    make_run(folder, 400, seed=3, n_clusters=8)
    return transforms.paper_view(contract.read_run(folder).tables)


@pytest.fixture
def dense(monkeypatch):
    """Every map above THRESHOLD papers is dense, with at most CAP points."""
    monkeypatch.setattr(density, "DENSITY_ABOVE", THRESHOLD)
    monkeypatch.setattr(density, "MAX_POINTS", CAP)


def _drawn_rows(decided: layers.MapLayers) -> np.ndarray:
    return np.concatenate([layer.rows for layer in decided.points])


def test_grid_counts_every_paper_in_its_cell(papers):
    """The histogram's cells add up to the number of papers, and each paper's cell holds it."""
    grid = density.density_grid(papers["map_x"], papers["map_y"], bins=40)
    assert grid.n_papers == len(papers)
    assert max(grid.counts.shape) == 40
    col = np.rint((papers["map_x"].to_numpy() - grid.x0) / grid.size).astype(int)
    row = np.rint((papers["map_y"].to_numpy() - grid.y0) / grid.size).astype(int)
    col, row = np.minimum(col, grid.counts.shape[1] - 1), np.minimum(row, grid.counts.shape[0] - 1)
    assert (grid.counts[row, col] > 0).all()


def test_grid_cells_follow_the_number_of_papers():
    """By default about sqrt(papers) cells across, from MIN_BINS to DENSITY_BINS, so a zoomed
    region of few papers is not dust."""
    rng = np.random.default_rng(0)
    across = {n: max(density.density_grid(*rng.random((2, n))).counts.shape) for n in (100, 10_000)}
    assert across == {100: density.MIN_BINS, 10_000: 100}
    assert max(density.density_grid(*rng.random((2, 100_000))).counts.shape) == density.DENSITY_BINS


def test_grid_of_a_window_counts_only_the_papers_inside():
    """With an extent, papers outside it are left out; a paper on the edge is counted."""
    grid = density.density_grid(np.array([0.0, 1.0, 2.0, 5.0]), np.zeros(4), (0.0, 2.0, -1, 1))
    assert grid.n_papers == 3


def test_sample_keeps_everything_under_the_cap():
    """At most `cap` rows: all of them, sorted."""
    rows = np.array([9, 3, 5])
    assert density.sample_rows(rows, np.zeros(3), cap=3).tolist() == [3, 5, 9]


def test_sample_is_capped_stratified_and_deterministic():
    """Over the cap, at most `cap` rows, every cluster keeps min(size, MIN_PER_CLUSTER), big
    clusters get the most, and the same input gives the same sample."""
    strata = np.r_[np.zeros(10_000), np.ones(5), np.full(40, 2), np.full(3_000, 3)]
    rows = np.arange(len(strata))
    sample = density.sample_rows(rows, strata, cap=1_000)
    assert len(sample) <= 1_000 and len(set(sample.tolist())) == len(sample)
    kept = pd.Series(strata[sample]).value_counts()
    assert kept[1.0] == 5 and kept[2.0] >= density.MIN_PER_CLUSTER
    assert kept[0.0] > kept[3.0] > kept[2.0]
    assert np.array_equal(sample, density.sample_rows(rows[::-1], strata[::-1], cap=1_000))


def test_region_mask_covers_boxes_and_lassos():
    """Papers inside a box or a lasso (triangle) are in; a selection of neither is None."""
    x, y = np.array([0.3, 2.0, 4.0, 0.2]), np.array([0.3, 2.0, 0.5, 1.5])
    box = {"box": [{"x": [1.5, 2.5], "y": [2.5, 1.5]}], "lasso": []}
    assert density.region_mask(x, y, box).tolist() == [False, True, False, False]
    lasso = {"lasso": [{"x": [0, 1, 0], "y": [0, 0, 1]}]}
    assert density.region_mask(x, y, lasso).tolist() == [True, False, False, False]
    assert density.region_mask(x, y, {"points": [{"customdata": 1}]}) is None


def test_below_the_threshold_no_density(papers):
    """A map of no more than DENSITY_ABOVE papers draws every paper and no density."""
    decided = layers.map_layers(papers)
    assert decided.density is None and decided.note == ""
    assert len(_drawn_rows(decided)) == len(papers)


def test_dense_map_counts_all_and_draws_a_capped_sample(papers, dense):
    """Above the threshold the density counts every paper, no context layer is drawn, and
    at most CAP points are drawn, from several clusters; the note says so."""
    decided = layers.map_layers(papers, shown=(papers["theme_id"] != "control").to_numpy())
    assert decided.density.n_papers == len(papers)
    assert layers.CONTEXT not in {layer.name for layer in decided.points}
    drawn = _drawn_rows(decided)
    assert 0 < len(drawn) <= CAP
    assert papers["cluster_id"].iloc[drawn].nunique() >= 5
    assert (papers["theme_id"].iloc[drawn] != "control").all()
    assert f"all {len(papers):,} papers" in decided.note and f"{len(drawn):,} of" in decided.note


def test_dense_map_draws_every_match_that_fits(papers, dense):
    """With at most CAP papers passing the filters, every one of them is drawn."""
    shown = np.zeros(len(papers), dtype=bool)
    shown[[4, 40, 41, 300]] = True
    decided = layers.map_layers(papers, shown=shown, labels=True)
    assert sorted(_drawn_rows(decided).tolist()) == [4, 40, 41, 300]
    assert decided.is_filtered and "all 4 matching papers" in decided.note


def test_zoom_narrows_grid_points_and_labels(papers, dense):
    """A zoom window keeps the density, points and labels of the papers inside it."""
    window = (0.0, 12.0, 0.0, 12.0)
    inside = papers["map_x"].between(0, 12) & papers["map_y"].between(0, 12)
    decided = layers.map_layers(papers, zoom=window, labels=True)
    assert decided.density.n_papers == int(inside.sum()) and decided.window == window
    assert inside.to_numpy()[_drawn_rows(decided)].all()
    assert "in this region" in decided.note


def test_cluster_of_a_dense_map_is_a_window_with_the_density_as_context(papers, dense):
    """A cluster's map on a dense run (its page): the window around the cluster, every paper
    inside it counted in the density, its own papers (capped) as the points, no context layer."""
    cluster_id = int(papers["cluster_id"].value_counts().index[0])
    members = papers["cluster_id"].to_numpy() == cluster_id
    decided = layers.map_layers(papers, highlight_cluster=cluster_id)
    x0, x1, y0, y1 = decided.window
    inside = papers["map_x"].between(x0, x1) & papers["map_y"].between(y0, y1)
    assert decided.density.n_papers == int(inside.sum()) > members.sum()
    assert layers.CONTEXT not in {layer.name for layer in decided.points}
    drawn = _drawn_rows(decided)
    assert 0 < len(drawn) <= CAP and members[drawn].all()
    assert "in this region" in decided.note


def test_density_figure_is_one_heatmap_of_counts_under_the_points(papers, dense):
    """The figure draws the density first, as counts (zero cells transparent, no hover), then
    the points; the note sits in the chart, so exports carry it."""
    decided = layers.map_layers(papers)
    fig = figures.map_figure(decided).to_dict()
    heatmap = fig["data"][0]
    assert heatmap["type"] == "heatmap" and heatmap["hoverinfo"] == "skip"
    assert int(np.asarray(trace_array(heatmap["z"])).sum()) == len(papers)
    assert heatmap["colorscale"][0][1] == "rgba(0,0,0,0)"
    assert {t["type"] for t in fig["data"][1:]} == {"scattergl"}
    notes = [a["text"] for a in fig["layout"]["annotations"] if a.get("name") == "density note"]
    assert notes == [decided.note]


@pytest.fixture
def small_run(tmp_path, monkeypatch):
    return use_small_run(tmp_path / "runs", monkeypatch)


def _spec(at) -> dict:
    return json.loads(at.get("plotly_chart")[0].proto.spec)


def _points(spec: dict) -> tuple[list[int], list[str]]:
    """The drawn points' paper rows and hover texts, over every point trace."""
    rows, hover = [], []
    for trace in spec["data"]:
        if trace["type"] == "scattergl":
            rows += trace_array(trace["customdata"]).astype(int).tolist()
            hover += list(trace.get("hovertext") or [])
    return rows, hover


def test_map_page_below_the_threshold_draws_every_paper(small_run):
    """At the default threshold 60 papers are few: every paper is a point, no heatmap."""
    spec = _spec(open_page("app_pages/map.py"))
    assert "heatmap" not in {t["type"] for t in spec["data"]}
    assert sorted(_points(spec)[0]) == list(range(60))


def test_map_page_draws_the_density_above_the_threshold(small_run, dense):
    """Above the threshold the page's map is a heatmap of all papers with at most CAP points,
    each point's row (what a click returns) naming the paper its hover shows."""
    at = open_page("app_pages/map.py")
    spec = _spec(at)
    heatmap = [t for t in spec["data"] if t["type"] == "heatmap"]
    assert len(heatmap) == 1 and int(trace_array(heatmap[0]["z"]).sum()) == 60
    rows, hover = _points(spec)
    assert 0 < len(rows) <= CAP
    papers = at.session_state[state.VIEW].papers
    for row, text in zip(rows, hover, strict=True):  # hover and click name the same paper
        assert text.startswith(papers["hover"].iloc[row])


def test_map_page_draws_every_filtered_match_when_they_fit(small_run, dense):
    """A theme filter matching no more than CAP papers draws exactly those papers."""
    at = open_page("app_pages/map.py", themes="control")
    papers = at.session_state[state.VIEW].papers
    matches = np.flatnonzero(papers["theme_id"] == "control").tolist()
    assert 0 < len(matches) <= CAP
    assert sorted(_points(_spec(at))[0]) == matches


def test_zoom_to_selection_and_back(small_run, dense):
    """On a dense map a kept selection offers *Zoom to selection*: the map is then drawn for
    the selection's region (the link carries it) until *Whole map*."""
    at = open_page("app_pages/map.py")
    at.session_state[state.MAP_SELECTION] = ("r1", [3, 5, 8])
    at.run()
    at.button(key=state.MAP_ZOOM_IN).click().run()
    link = at.query_params[state.MAP_ZOOM.name]
    zoom = state.zoom_window(link if isinstance(link, str) else link[0])
    spec = _spec(at)
    assert spec["layout"]["xaxis"]["range"] == pytest.approx(list(zoom[:2]))
    papers = at.session_state[state.VIEW].papers
    rows = _points(spec)[0]
    assert papers["map_x"].iloc[rows].between(zoom[0], zoom[1]).all()
    at.button(key=state.MAP_ZOOM_OUT).click().run()
    assert state.MAP_ZOOM.name not in at.query_params
    assert "range" not in _spec(at)["layout"]["xaxis"]


def test_zoom_link_restores_the_region_and_a_bad_one_is_named(small_run, dense):
    """A link's `zoom` draws that region; an empty or unreadable window is ignored with the
    usual notice."""
    at = open_page("app_pages/map.py", zoom="-5,5,-5,5")
    assert _spec(at)["layout"]["xaxis"]["range"] == [-5, 5]
    at = open_page("app_pages/map.py", zoom="1,0,0,1")
    notices = " ".join(i.value.replace("\\", "") for i in at.info)
    assert "zoom=1,0,0,1" in notices
    assert "range" not in _spec(at)["layout"]["xaxis"]
