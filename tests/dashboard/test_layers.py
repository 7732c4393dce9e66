"""The paper map's decisions as plain data: which papers go in which layer, their colours,
sizes and hover, the chosen paper, cluster label positions and the zoom window."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashboard import layers, palette, transforms
from pipeline import contract
from tests.run_factory import make_run


@pytest.fixture(scope="module")
def papers(tmp_path_factory) -> pd.DataFrame:
    folder = tmp_path_factory.mktemp("runs")
    make_run(folder, 150, seed=5)
    return transforms.paper_view(contract.read_run(folder).tables)


def _named(decided: layers.MapLayers, name: str) -> layers.PointLayer:
    return next(layer for layer in decided.points if layer.name == name)


def _rows(decided: layers.MapLayers, skip: tuple[str, ...] = (layers.CONTEXT,)) -> np.ndarray:
    return np.concatenate([lay.rows for lay in decided.points if lay.name not in skip])


def test_every_paper_in_one_layer_with_its_position(papers):
    """Without filters every paper is in exactly one layer, at its map position."""
    decided = layers.map_layers(papers)
    rows = _rows(decided)
    assert sorted(rows.tolist()) == list(range(len(papers)))
    xs = np.concatenate([lay.map_x for lay in decided.points])
    assert np.allclose(xs, papers["map_x"].to_numpy()[rows], atol=1e-4)
    assert layers.CONTEXT not in {lay.name for lay in decided.points}
    assert decided.window is None and decided.chosen is None and decided.labels.empty


def test_filtered_out_papers_become_faint_context_without_hover(papers):
    """Papers outside the filters form one faint, smaller layer with no hover; the others
    keep their colour."""
    shown = (papers["theme_id"] == "control").to_numpy()
    decided = layers.map_layers(papers, shown=shown)
    context = _named(decided, layers.CONTEXT)
    assert sorted(context.rows.tolist()) == np.flatnonzero(~shown).tolist()
    assert context.hover is None and context.color == palette.CONTEXT_GREY
    others = [lay for lay in decided.points if lay.name != layers.CONTEXT]
    assert all(context.opacity < lay.opacity and context.size < lay.size for lay in others)
    assert sorted(_rows(decided).tolist()) == np.flatnonzero(shown).tolist()
    assert decided.is_filtered


def test_filtered_matches_grow_above_the_unfiltered_size(papers):
    """With filters on, the matches are drawn larger than the same papers without filters,
    so a few matches among thousands of faint points stand out."""
    shown = (papers["theme_id"] == "control").to_numpy()
    plain = _named(layers.map_layers(papers), "Control")
    filtered = _named(layers.map_layers(papers, shown=shown), "Control")
    assert filtered.size > plain.size
    assert not layers.map_layers(papers).is_filtered


def test_unassigned_papers_are_muted_and_themes_get_their_colours(papers):
    """Unassigned papers are one muted layer; assigned papers form one layer per theme in the
    theme's colour, whose hover ends with the theme name."""
    colors = palette.theme_colors(papers["theme_id"].unique().tolist())
    decided = layers.map_layers(papers, colors=colors)
    unassigned = _named(decided, layers.UNASSIGNED_NAME)
    assert unassigned.color == palette.MUTED
    assert len(unassigned.rows) == int((papers["cluster_id"] == -1).sum())
    assigned = papers[papers["cluster_id"] != -1]
    themed = [lay for lay in decided.points if lay.name != layers.UNASSIGNED_NAME]
    assert {lay.name for lay in themed} == set(assigned["theme_name"])
    for lay in themed:
        theme_ids = set(papers["theme_id"].to_numpy()[lay.rows])
        assert len(theme_ids) == 1 and lay.color == colors[theme_ids.pop()]
        assert lay.hover_adds_name and lay.in_legend


def test_colour_by_cluster_is_one_colour_per_cluster_out_of_the_legend(papers):
    """By cluster, each point gets its cluster's colour (same cluster, same colour) and the
    theme layers stay out of the legend."""
    decided = layers.map_layers(papers, color_by="cluster")
    themed = [lay for lay in decided.points if lay.name != layers.UNASSIGNED_NAME]
    colours = np.concatenate([lay.color for lay in themed])
    ids = papers["cluster_id"].to_numpy()[np.concatenate([lay.rows for lay in themed])]
    for cid in np.unique(ids):
        assert len(set(colours[ids == cid])) == 1
    assert len(set(colours)) == len(np.unique(ids))
    assert all(not lay.in_legend and lay.legend_group == "papers" for lay in themed)


def test_point_size_shrinks_as_the_map_fills():
    """Points get smaller as the number of papers grows."""
    sizes = [layers.point_size(n) for n in (100, 5_000, 5_001, 30_001, 75_000)]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > sizes[-1]


def test_labels_sit_at_cluster_medians_largest_first(papers):
    """Labels sit at the median position of their shown papers, largest clusters first, capped
    at max_labels, HTML-escaped, ✎ marking edited clusters only."""
    shown = (papers["theme_id"] != "control").to_numpy()
    decided = layers.map_layers(papers, shown=shown, labels=True, max_labels=3, edited_clusters={0})
    visible = papers[shown & (papers["cluster_id"] != -1).to_numpy()]
    sizes = visible.groupby("cluster_id").size().sort_values(ascending=False)
    assert decided.labels["cluster_id"].tolist() == sizes.index[:3].tolist()
    for rec in decided.labels.itertuples():
        members = visible[visible["cluster_id"] == rec.cluster_id]
        assert rec.map_x == pytest.approx(members["map_x"].median())
        assert rec.map_y == pytest.approx(members["map_y"].median())
        assert rec.text.endswith(layers.EDITED_MARK) == (rec.cluster_id == 0)
    every = layers.map_layers(papers, labels=True).labels
    assert len(every) == papers.loc[papers["cluster_id"] != -1, "cluster_id"].nunique()
    unsafe = papers.assign(cluster_label="<b>x</b>")
    assert set(layers.map_layers(unsafe, labels=True).labels["text"]) == {"&lt;b&gt;x&lt;/b&gt;"}


def test_moved_papers_say_so_in_their_hover(papers):
    """Exactly the papers a reviewer moved carry the moved note in their hover."""
    marked = papers.assign(is_moved=papers["row"] % 7 == 0)
    decided = layers.map_layers(marked)
    rows = _rows(decided)
    hover = np.concatenate([lay.hover for lay in decided.points])
    says_moved = np.array([layers.MOVED_NOTE in h for h in hover])
    assert says_moved.any()
    assert (says_moved == marked["is_moved"].to_numpy()[rows]).all()


def test_highlighting_a_cluster_zooms_to_it(papers):
    """Highlighting a cluster keeps only its papers in colour, sets a window around them that is
    smaller than the map, and keeps only the context inside that window."""
    decided = layers.map_layers(papers, highlight_cluster=1)
    members = papers[papers["cluster_id"] == 1]
    assert sorted(_rows(decided).tolist()) == members["row"].tolist()
    x0, x1, y0, y1 = decided.window
    assert x0 < members["map_x"].min() and x1 > members["map_x"].max()
    assert y0 < members["map_y"].min() and y1 > members["map_y"].max()
    assert x1 - x0 < np.ptp(papers["map_x"])
    context = _named(decided, layers.CONTEXT)
    assert ((context.map_x >= x0 - 1e-3) & (context.map_x <= x1 + 1e-3)).all()  # float32
    inside = papers["map_x"].between(x0, x1) & papers["map_y"].between(y0, y1)
    assert len(context.rows) == int((inside & (papers["cluster_id"] != 1)).sum())


def test_chosen_paper_is_ringed_at_its_position(papers):
    """The chosen paper's position is decided; an unknown row chooses nothing."""
    decided = layers.map_layers(papers, selected_row=7)
    assert decided.chosen == pytest.approx(tuple(papers.loc[7, ["map_x", "map_y"]]))
    assert layers.map_layers(papers, selected_row=10_000).chosen is None


def test_theme_layer_names_are_html_escaped(papers):
    """A theme name made of markup becomes an escaped legend entry, never Plotly HTML."""
    evil = "<img src=x onerror=alert(1)> **b**"
    marked = papers.assign(
        theme_name=papers["theme_name"].where(papers["theme_id"] != "control", evil)
    )
    names = {layer.name for layer in layers.map_layers(marked).points}
    assert "&lt;img src=x onerror=alert(1)&gt; **b**" in names and evil not in names


def test_large_maps_hover_the_short_title_only(papers, monkeypatch):
    """Above FULL_HOVER_MAX papers in colour the hover is the escaped title cut to SHORT_TITLE
    characters (no date, no cluster), so the figure sent stays small; below it, the full hover."""
    long_titles = papers.assign(title="<b>" + "x" * 80 + "</b>")
    full = layers.map_layers(long_titles)
    monkeypatch.setattr(layers, "FULL_HOVER_MAX", len(papers) - 1)
    short = layers.map_layers(long_titles)
    short_hovers = np.concatenate([lay.hover for lay in short.points])
    full_hovers = np.concatenate([lay.hover for lay in full.points])
    assert all(h.startswith("&lt;b&gt;xxx") and h.endswith("…") for h in short_hovers)
    assert max(len(h.replace("&lt;", "<").replace("&gt;", ">")) for h in short_hovers) <= 40
    assert sum(map(len, short_hovers)) < sum(map(len, full_hovers))


def test_the_three_greys_differ_in_lightness():
    """Filtered-out papers, unassigned papers and the 'other' theme get greys at least 40 (of
    255) apart in lightness, so the map tells them apart."""

    def lightness(color: str) -> float:
        return sum(int(color[i : i + 2], 16) for i in (1, 3, 5)) / 3

    greys = sorted(map(lightness, (palette.CONTEXT_GREY, palette.MUTED, palette.OTHER_GREY)))
    assert min(b - a for a, b in zip(greys, greys[1:], strict=False)) >= 40


def test_labels_that_would_overlap_give_way_to_larger_clusters():
    """Two clusters centred almost at the same spot get one label (the larger cluster's); a
    cluster far away keeps its own."""
    centres = pd.DataFrame(
        {
            "cluster_id": [1, 2, 3],
            "map_x": [0.0, 0.1, 8.0],
            "map_y": [0.0, 0.05, 8.0],
            "n_papers": [50, 40, 30],
            "label": ["big cluster label", "second cluster label", "far away"],
        }
    )
    kept = layers.declutter(centres, extent=(10.0, 10.0))
    assert kept["cluster_id"].tolist() == [1, 3]
