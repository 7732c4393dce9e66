"""Decide, then draw: what the paper map shows, decided as plain data (no Plotly, no Streamlit).

`map_layers` takes the paper view (`transforms.paper_view`) and the filters' mask and decides
the point sets (context, unassigned, one per theme) with their colours, sizes and hover text,
the ringed chosen paper, the cluster labels' positions and the zoom window; above
`density.DENSITY_ABOVE` papers all of them become a density (`dashboard.density`) with at most
`density.MAX_POINTS` drawn as points over it. `figures.map_figure` only draws the result.
"""

from __future__ import annotations

import html
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dashboard import density as dens
from dashboard import transforms
from dashboard.palette import CONTEXT_GREY, MUTED, cluster_color, theme_colors
from pipeline.contract import UNASSIGNED

CONTEXT = "filtered out"  # name of the faint layer of papers outside the filters
UNASSIGNED_NAME = "unassigned"
MOVED_NOTE = "<br>✎ moved by review"  # added to the hover of papers a reviewer moved
EDITED_MARK = " ✎"  # added to the label of clusters a reviewer changed
# Above this many papers in colour the hover is the title alone, cut to SHORT_TITLE characters:
# hover text is most of the figure (75k full hovers: 11 MB to send); a click opens the paper.
FULL_HOVER_MAX = 20_000
SHORT_TITLE = 40
MATCH_GROWTH = 1.5  # matched papers are this much larger when some papers are filtered out
ZOOM_PAD = 0.15  # margin around a zoomed cluster, as a share of its extent (at least 0.5)
DENSE_POINT_SIZE = 4.0  # points drawn over the density
# Paper columns the map uses (see transforms.paper_view).
MAP_COLUMNS = (
    "row",
    "map_x",
    "map_y",
    "hover",
    "hover_theme",
    "title",
    "theme_id",
    "theme_name",
    "cluster_id",
    "cluster_label",
    "is_moved",
)


@dataclass(frozen=True)
class PointLayer:
    """Papers drawn alike (one WebGL trace). Arrays have one entry per point."""

    name: str
    map_x: np.ndarray  # float32: half of what float64 would send to the browser
    map_y: np.ndarray
    rows: np.ndarray  # int32 paper row of each point, returned by selection events
    color: str | np.ndarray  # one colour for the layer, or one per point
    size: float
    opacity: float
    hover: np.ndarray | None  # HTML-escaped hover text per point; None: no hover
    hover_adds_name: bool = False  # the hover ends with the layer name (the papers' theme)
    in_legend: bool = True
    legend_group: str | None = None


@dataclass(frozen=True)
class MapLayers:
    """Everything the paper map draws, in drawing order."""

    points: tuple[PointLayer, ...]  # context first, then unassigned, then one per theme
    chosen: tuple[float, float] | None  # (map_x, map_y) of the chosen paper, ringed
    labels: pd.DataFrame  # cluster labels: cluster_id, map_x, map_y, text (HTML-escaped)
    window: tuple[float, float, float, float] | None  # (x0, x1, y0, y1) zoom; None: all
    # Some papers are filtered out: the labels lose their boxes (annotations are drawn above
    # WebGL points, so a box would hide the matches under it) and the matches grow.
    is_filtered: bool = False
    # A large map: every paper (in the window) counted on a grid, drawn under the points.
    density: dens.Density | None = None
    note: str = ""  # what the density and the points show, in words ("" without density)


def point_size(n_papers: int) -> float:
    """Marker size for a map of `n_papers`: smaller points as the map fills up."""
    return 5.0 if n_papers <= 5_000 else 3.5 if n_papers <= 30_000 else 2.5


def cluster_centres(
    papers: pd.DataFrame, max_labels: int | None = None, rows: np.ndarray | None = None
) -> pd.DataFrame:
    """Median map position, size and label (its first paper's) per assigned cluster of
    `papers`, or of the papers `rows` marks (a bool mask): columns cluster_id, map_x, map_y,
    n_papers, label; largest first (ties: lower cluster id first); the first `max_labels`.
    Numpy on the four columns it reads: no copy of the papers (a million rows on the Map page)."""
    cluster_ids = papers["cluster_id"].to_numpy()
    assigned = cluster_ids != UNASSIGNED
    at = np.flatnonzero(assigned if rows is None else assigned & np.asarray(rows, dtype=bool))
    if not len(at):
        return pd.DataFrame(columns=["cluster_id", "map_x", "map_y", "n_papers", "label"])
    order = at[np.argsort(cluster_ids[at], kind="stable")]  # by cluster, papers order within
    sorted_ids = cluster_ids[order]
    starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
    spans = list(zip(starts, np.r_[starts[1:], len(order)], strict=True))
    x, y = papers["map_x"].to_numpy()[order], papers["map_y"].to_numpy()[order]
    centres = pd.DataFrame(
        {
            "cluster_id": sorted_ids[starts],
            "map_x": [float(np.median(x[a:b])) for a, b in spans],
            "map_y": [float(np.median(y[a:b])) for a, b in spans],
            "n_papers": np.diff(np.r_[starts, len(order)]),
            "label": papers["cluster_label"].to_numpy()[order[starts]],
        }
    )
    centres = centres.sort_values("n_papers", ascending=False, kind="stable")
    centres = centres.reset_index(drop=True)
    return centres.head(max_labels) if max_labels else centres


def zoom_window(members: pd.DataFrame) -> tuple[float, float, float, float] | None:
    """(x0, x1, y0, y1) around `members` with a margin; None when there are none."""
    if members.empty:
        return None
    pad_x = max(float(np.ptp(members["map_x"])) * ZOOM_PAD, 0.5)
    pad_y = max(float(np.ptp(members["map_y"])) * ZOOM_PAD, 0.5)
    return (
        float(members["map_x"].min()) - pad_x,
        float(members["map_x"].max()) + pad_x,
        float(members["map_y"].min()) - pad_y,
        float(members["map_y"].max()) + pad_y,
    )


def _layer(frame: pd.DataFrame, name: str, color, size: float, opacity: float, **kw) -> PointLayer:
    """The papers of `frame` as one layer."""
    return PointLayer(
        name=name,
        map_x=frame["map_x"].to_numpy(np.float32),
        map_y=frame["map_y"].to_numpy(np.float32),
        rows=frame["row"].to_numpy(np.int32),
        color=color,
        size=size,
        opacity=opacity,
        **kw,
    )


def short_hover(titles: pd.Series) -> pd.Series:
    """HTML-escaped titles cut to SHORT_TITLE characters: the hover of a large map."""
    return transforms.escape_html(transforms.cut_text(titles, SHORT_TITLE, "…"))


def _hover(frame: pd.DataFrame, column: str, short: bool = False) -> np.ndarray:
    """The hover text of `frame`'s papers (`short`: the title alone, cut), with MOVED_NOTE for
    papers a reviewer moved."""
    text = short_hover(frame["title"]) if short else frame[column]
    if "is_moved" in frame.columns:
        text = text.where(~frame["is_moved"].to_numpy(bool), text + MOVED_NOTE)
    return text.to_numpy()


def _labels(centres: pd.DataFrame, edited_clusters: Collection[int]) -> pd.DataFrame:
    """Label rows at the cluster centres: HTML-escaped label, EDITED_MARK for edited ones."""
    edited = centres["cluster_id"].isin(list(edited_clusters)).to_numpy()
    text = centres["label"].astype(str).map(html.escape)
    return pd.DataFrame(
        {
            "cluster_id": centres["cluster_id"].to_numpy(),
            "map_x": centres["map_x"].astype(float).to_numpy(),
            "map_y": centres["map_y"].astype(float).to_numpy(),
            "text": np.where(edited, text + EDITED_MARK, text),
        }
    )


# The map as drawn (figures.map_figure: about 1000 x 640 px, 12 px labels): how much of the map
# one character of a label covers, to keep labels from overlapping.
LABEL_CHAR_PX, LABEL_HEIGHT_PX, MAP_WIDTH_PX, MAP_HEIGHT_PX = 7.0, 18.0, 1000.0, 600.0


def declutter(centres: pd.DataFrame, extent: tuple[float, float]) -> pd.DataFrame:
    """The label rows of `centres` (largest clusters first) whose boxes do not overlap a
    larger cluster's label, estimated on a map of `extent` (x span, y span) drawn at about
    MAP_WIDTH_PX x MAP_HEIGHT_PX: a crowded map shows fewer, readable labels."""
    width, height = (max(float(e), 1e-9) for e in extent)
    per_char = LABEL_CHAR_PX / MAP_WIDTH_PX * width
    half_h = LABEL_HEIGHT_PX / MAP_HEIGHT_PX * height / 2
    kept: list[tuple[float, float, float]] = []  # (x, y, half width) of placed labels
    keep = []
    for rec in centres.itertuples(index=False):
        half_w = len(str(rec.label)) * per_char / 2
        x, y = float(rec.map_x), float(rec.map_y)
        clear = all(abs(x - kx) >= half_w + kw or abs(y - ky) >= 2 * half_h for kx, ky, kw in kept)
        if clear:
            kept.append((x, y, half_w))
        keep.append(clear)
    return centres[np.array(keep, dtype=bool)] if len(centres) else centres


def density_note(
    grid: dens.Density, n_drawn: int, n_matches: int, *, is_filtered: bool, is_zoomed: bool
) -> str:
    """What a density map shows, in words: the papers counted in the shading and the points."""
    matching = "matching " if is_filtered else ""
    region = " in this region" if is_zoomed else ""
    points = (
        f"all {n_drawn:,} {matching}papers drawn as points"
        if n_drawn == n_matches
        else f"{n_drawn:,} of the {n_matches:,} {matching}papers drawn as points "
        "(a sample stratified by cluster)"
    )
    return f"Shading: density of all {grid.n_papers:,} papers{region}; {points}."


def _inside(papers: pd.DataFrame, window: tuple[float, float, float, float]) -> np.ndarray:
    x0, x1, y0, y1 = window
    return papers["map_x"].between(x0, x1).to_numpy() & papers["map_y"].between(y0, y1).to_numpy()


def map_layers(
    papers: pd.DataFrame,
    *,
    shown: np.ndarray | None = None,
    color_by: str = "theme",
    colors: dict[str, str] | None = None,
    highlight_cluster: int | None = None,
    selected_row: int | None = None,
    labels: bool = False,
    max_labels: int | None = None,
    edited_clusters: Collection[int] = (),
    density: dens.Density | None = None,
    zoom: tuple[float, float, float, float] | None = None,
) -> MapLayers:
    """Decide the paper map's layers.

    `papers` is the paper view (one row per paper, MAP_COLUMNS; an optional bool `is_moved`
    marks papers a reviewer moved). `shown` marks the papers passing the filters: the rest
    become one faint context layer without hover. Unassigned papers are muted grey.
    `color_by` is "theme" (a colour per theme from `colors`) or "cluster" (a palette colour per
    point, layers still split by theme for the hover, kept out of the legend).
    Above FULL_HOVER_MAX papers in colour, the hover is the title alone, cut (`short_hover`).
    `highlight_cluster` keeps only that cluster's papers in colour and zooms to it (only the
    context inside the window is kept). `labels` places the labels of the largest
    `max_labels` clusters (None: all) among the shown papers at their median position, ✎
    marking `edited_clusters`, leaving out a label that would overlap a larger cluster's
    (`declutter`). `selected_row` is the paper row to ring.

    Above `density.DENSITY_ABOVE` papers the map is dense: every paper is counted in a density
    grid (`density`, the whole map's, computed once per run; made here when None or when
    zoomed), there is no context layer, and the shown papers are drawn as points, at most
    `density.MAX_POINTS` (`density.sample_rows`). `zoom` (x0, x1, y0, y1) narrows a dense map
    to a window: the grid, points and labels of the papers inside it. A highlighted cluster of
    a dense map is such a window around the cluster: every paper there as the density, the
    cluster's papers as points.
    """
    papers = papers[[c for c in MAP_COLUMNS if c in papers.columns]]  # copy less below
    shown = np.ones(len(papers), dtype=bool) if shown is None else np.asarray(shown, dtype=bool)
    window, grid = None, None
    is_filtered = not shown.all() and highlight_cluster is None
    if highlight_cluster is not None:
        shown = shown & (papers["cluster_id"].to_numpy() == highlight_cluster)
        window = zoom_window(papers[papers["cluster_id"] == highlight_cluster])
    elif dens.is_dense(len(papers)):
        window = zoom
    if dens.is_dense(len(papers)):
        in_view = shown if window is None else shown & _inside(papers, window)
        grid = (
            density
            if density is not None and window is None
            else dens.density_grid(papers["map_x"], papers["map_y"], window)
        )
        at = np.flatnonzero(in_view)
        drawn = np.zeros(len(papers), dtype=bool)
        drawn[dens.sample_rows(at, papers["cluster_id"].to_numpy()[at])] = True
    colors = colors or theme_colors(papers["theme_id"].unique().tolist())
    size = point_size(len(papers)) if grid is None else DENSE_POINT_SIZE
    match_size = size * MATCH_GROWTH if is_filtered else size
    points = []
    if grid is None:
        context = papers[~shown]
        if window is not None:  # only the context inside the zoomed window travels to the browser
            context = context[_inside(context, window)]
        if len(context):
            points.append(_layer(context, CONTEXT, CONTEXT_GREY, size * 0.6, 0.18, hover=None))
        visible, placed = papers[shown], shown
    else:  # the density is the context; labels sit among every shown paper in view
        visible, placed = papers[drawn], in_view
    unassigned = visible[visible["cluster_id"] == UNASSIGNED]
    assigned = visible[visible["cluster_id"] != UNASSIGNED]
    short = len(visible) > FULL_HOVER_MAX
    if len(unassigned):
        hover = _hover(unassigned, "hover_theme", short)
        points.append(
            _layer(unassigned, UNASSIGNED_NAME, MUTED, match_size * 0.8, 0.55, hover=hover)
        )
    for theme_id, group in assigned.groupby("theme_id", sort=True):
        name = html.escape(str(group["theme_name"].iloc[0]))  # a legend entry: Plotly HTML
        by_theme = {"hover": _hover(group, "hover", short), "hover_adds_name": True}
        if color_by == "cluster":
            color = cluster_color(group["cluster_id"].to_numpy())
            by_theme |= {"in_legend": False, "legend_group": "papers"}
        else:
            color = colors.get(theme_id, MUTED)
        points.append(_layer(group, name, color, match_size, 0.85, **by_theme))
    chosen = None
    at_row = [] if selected_row is None else np.flatnonzero(papers["row"] == selected_row)
    if len(at_row):
        rec = papers.iloc[at_row[0]]
        chosen = (float(rec["map_x"]), float(rec["map_y"]))
    centres = cluster_centres(papers, max_labels, rows=placed if labels else np.zeros_like(placed))
    if len(centres):
        if window is None or highlight_cluster is not None:
            frame_of = (
                papers if window is None else papers[papers["cluster_id"] == highlight_cluster]
            )
            extent = (np.ptp(frame_of["map_x"].to_numpy()), np.ptp(frame_of["map_y"].to_numpy()))
        else:
            extent = (window[1] - window[0], window[3] - window[2])
        centres = declutter(centres, extent)
    note = ""
    if grid is not None:
        note = density_note(
            grid,
            len(visible),
            int(placed.sum()),
            is_filtered=is_filtered,
            is_zoomed=window is not None,
        )
    return MapLayers(
        tuple(points),
        chosen,
        _labels(centres, edited_clusters),
        window,
        is_filtered,
        density=grid,
        note=note,
    )
