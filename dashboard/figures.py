"""Pure Plotly figure builders: plain DataFrames in, `go.Figure` out (no Streamlit, no I/O).

Paper text placed in figures (hover, labels) is HTML-escaped first: Plotly renders a few tags.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

from dashboard.transforms import OTHER_THEME, UNASSIGNED

MUTED = "#b0b4ba"  # unassigned and filtered-out papers
OTHER = "#7f7f7f"  # the 'other' theme: papers that fit no named theme
THEME_PALETTE = qualitative.D3
CLUSTER_PALETTE = qualitative.Dark24 + qualitative.Light24
SPARSE_FILL = "rgba(120,120,120,0.13)"
PARTIAL_FILL = "rgba(255,165,0,0.12)"  # a period the data stops inside (incomplete)
PARTIAL_NOTE = "partial period"
MOVED_NOTE = "<br>✎ moved by review"  # added to the hover of papers a reviewer moved
EDITED_MARK = " ✎"  # added to the map label of clusters a reviewer changed
# Paper columns the map uses (see transforms.paper_view).
MAP_COLUMNS = (
    "row",
    "map_x",
    "map_y",
    "hover",
    "hover_theme",
    "theme_id",
    "theme_name",
    "cluster_id",
    "is_moved",
)


def theme_colors(theme_ids: list[str]) -> dict[str, str]:
    """A stable colour per theme (sorted ids cycle through the palette); 'other' is grey."""
    named = sorted(t for t in theme_ids if t != OTHER_THEME)
    colors = {t: THEME_PALETTE[i % len(THEME_PALETTE)] for i, t in enumerate(named)}
    colors[OTHER_THEME] = OTHER
    return colors


def cluster_color(cluster_ids: np.ndarray) -> np.ndarray:
    """A palette colour per cluster id; unassigned papers get the muted grey."""
    ids = np.asarray(cluster_ids)
    palette = np.array(CLUSTER_PALETTE, dtype=object)
    colors = palette[np.mod(ids, len(palette))]
    colors[ids == UNASSIGNED] = MUTED
    return colors


def _points(
    frame: pd.DataFrame,
    name: str,
    color,
    size: float,
    opacity: float,
    *,
    with_theme: bool = False,
    **kw,
) -> go.Scattergl:
    """WebGL markers for `frame`; with_theme=True when the trace name is the papers' theme
    (then the hover takes the theme from the trace name instead of repeating it per point).
    Papers with a true `is_moved` get MOVED_NOTE in their hover."""
    if kw.get("hoverinfo") != "skip":
        kw.setdefault(
            "hovertemplate",
            "%{hovertext}<br>%{fullData.name}<extra></extra>"
            if with_theme
            else "%{hovertext}<extra></extra>",
        )
    hovertext = None
    if kw.get("hoverinfo") != "skip":
        hovertext = frame["hover" if with_theme else "hover_theme"]
        if "is_moved" in frame.columns:
            hovertext = hovertext.where(~frame["is_moved"].to_numpy(bool), hovertext + MOVED_NOTE)
        hovertext = hovertext.to_numpy()
    return go.Scattergl(
        x=frame["map_x"].to_numpy(np.float32),  # float32 halves what travels to the browser
        y=frame["map_y"].to_numpy(np.float32),
        mode="markers",
        name=name,
        marker={"color": color, "size": size, "opacity": opacity},
        customdata=frame["row"].to_numpy(np.int32),
        hovertext=hovertext,
        **kw,
    )


def map_figure(
    papers: pd.DataFrame,
    *,
    shown: np.ndarray | None = None,
    color_by: str = "theme",
    colors: dict[str, str] | None = None,
    centres: pd.DataFrame | None = None,
    highlight_cluster: int | None = None,
    selected_row: int | None = None,
    height: int = 640,
) -> go.Figure:
    """The paper map: one WebGL point per paper at (map_x, map_y).

    `shown` marks the papers passing the filters (the rest are drawn faint, as context);
    unassigned papers are muted grey. `color_by` is "theme" (one trace per theme, legend) or
    "cluster" (one trace, palette colour per cluster). `centres` (cluster_id, map_x, map_y,
    label, optional is_edited) places cluster labels, ✎ marking clusters a reviewer changed.
    An optional bool `is_moved` paper column marks papers a reviewer moved (in the hover).
    `highlight_cluster` zooms to that cluster and dims others.
    Every point carries its paper `row` in customdata, for selection events.
    """
    papers = papers[[c for c in MAP_COLUMNS if c in papers.columns]]  # copy less below
    shown = np.ones(len(papers), dtype=bool) if shown is None else np.asarray(shown, dtype=bool)
    window = None  # (x0, x1, y0, y1) when zoomed to one cluster
    if highlight_cluster is not None:
        shown = shown & (papers["cluster_id"].to_numpy() == highlight_cluster)
        members = papers[papers["cluster_id"] == highlight_cluster]
        if len(members):
            pad_x = max(float(np.ptp(members["map_x"])) * 0.15, 0.5)
            pad_y = max(float(np.ptp(members["map_y"])) * 0.15, 0.5)
            window = (
                float(members["map_x"].min()) - pad_x,
                float(members["map_x"].max()) + pad_x,
                float(members["map_y"].min()) - pad_y,
                float(members["map_y"].max()) + pad_y,
            )
    colors = colors or theme_colors(papers["theme_id"].unique().tolist())
    fig = go.Figure()
    size = 5.0 if len(papers) <= 5_000 else 3.5 if len(papers) <= 30_000 else 2.5
    context = papers[~shown]
    if window is not None:  # only the context inside the zoomed window travels to the browser
        x0, x1, y0, y1 = window
        context = context[
            context["map_x"].between(x0, x1).to_numpy()
            & context["map_y"].between(y0, y1).to_numpy()
        ]
    if len(context):
        fig.add_trace(
            _points(context, "filtered out", MUTED, size * 0.6, 0.18, hoverinfo="skip")  # context
        )
    visible = papers[shown]
    unassigned = visible[visible["cluster_id"] == UNASSIGNED]
    assigned = visible[visible["cluster_id"] != UNASSIGNED]
    if len(unassigned):
        fig.add_trace(_points(unassigned, "unassigned", MUTED, size * 0.8, 0.55))
    for theme_id, group in assigned.groupby("theme_id", sort=True):
        name = str(group["theme_name"].iloc[0])
        if color_by == "cluster":  # colour per cluster; traces still split by theme for the hover
            color = cluster_color(group["cluster_id"].to_numpy())
            fig.add_trace(
                _points(
                    group,
                    name,
                    color,
                    size,
                    0.85,
                    with_theme=True,
                    showlegend=False,
                    legendgroup="papers",
                )
            )
        else:
            fig.add_trace(
                _points(group, name, colors.get(theme_id, MUTED), size, 0.85, with_theme=True)
            )
    if selected_row is not None and selected_row in set(papers["row"]):
        chosen = papers[papers["row"] == selected_row]
        fig.add_trace(
            go.Scatter(
                x=chosen["map_x"],
                y=chosen["map_y"],
                mode="markers",
                name="chosen paper",
                marker={
                    "size": 16,
                    "color": "rgba(0,0,0,0)",
                    "line": {"width": 3, "color": "#d62728"},
                },
                hoverinfo="skip",
            )
        )
    if centres is not None and len(centres):
        # Annotations, not a text trace: WebGL points would be drawn over an SVG text trace.
        for rec in centres.itertuples(index=False):
            fig.add_annotation(
                x=float(rec.map_x),
                y=float(rec.map_y),
                text=html.escape(str(rec.label))
                + (EDITED_MARK if getattr(rec, "is_edited", False) else ""),
                showarrow=False,
                font={"size": 12, "color": "#111"},
                bgcolor="rgba(255,255,255,0.7)",
                borderpad=1,
                name="cluster label",
            )
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        xaxis={"visible": False},
        yaxis={"visible": False, "scaleanchor": "x"},
        dragmode="lasso",
        legend={"orientation": "h", "y": 1.02, "x": 0, "itemsizing": "constant"},
        plot_bgcolor="white",
    )
    if window is not None:
        fig.update_xaxes(range=list(window[:2]))
        fig.update_yaxes(range=list(window[2:]))
        fig.update_layout(yaxis={"scaleanchor": None})
    return fig


def timeline_figure(
    counts: pd.DataFrame,
    *,
    measure: str = "n_papers",
    style: str = "lines",
    names: dict | None = None,
    colors: dict | None = None,
    height: int = 460,
) -> go.Figure:
    """Papers per period and group (output of `counts_by_period`) as lines or stacked areas.

    `measure` is "n_papers" or "share". Sparse periods (`is_sparse`) are shaded grey and their
    points drawn hollow, so nobody reads a trend from two papers. A partial period (optional
    `is_partial`: the data stops inside it) gets a dashed orange band labelled PARTIAL_NOTE and
    hollow points, so its drop is not read as a decline.
    """
    names = names or {}
    fig = go.Figure()
    periods = counts["period"].drop_duplicates().tolist()
    for group, frame in counts.groupby("group", sort=True):
        label = html.escape(str(names.get(group, group)))
        sparse = frame["is_sparse"].to_numpy()
        if "is_partial" in frame.columns:
            sparse = sparse | frame["is_partial"].to_numpy(bool)
        kw = {
            "x": frame["period"],
            "y": frame[measure],
            "name": label,
            "customdata": np.c_[frame["n_papers"], frame["n_period_total"]],
            "hovertemplate": f"{label}<br>%{{x}}: %{{y}}"
            + " (%{customdata[0]} of %{customdata[1]} papers)<extra></extra>",
            "marker": {
                "symbol": np.where(sparse, "circle-open", "circle").tolist(),
                "size": 7,
            },
            # a clicked point grows; the others stay as they were (not faded)
            "selected": {"marker": {"size": 12}},
            "unselected": {"marker": {"opacity": 1}},
        }
        if colors and group in colors:
            kw["line"] = {"color": colors[group]}
            kw["marker"]["color"] = colors[group]
        if style == "area":
            fig.add_trace(go.Scatter(mode="lines", stackgroup="one", **kw))
        else:
            fig.add_trace(go.Scatter(mode="lines+markers", **kw))
    sparse_periods = counts.loc[counts["is_sparse"], "period"].drop_duplicates().tolist()
    for period in sparse_periods:
        i = periods.index(period)
        fig.add_vrect(
            x0=i - 0.5,
            x1=i + 0.5,
            fillcolor=SPARSE_FILL,
            line_width=0,
            layer="below",
            name="sparse period",
        )
    partial_periods = []
    if "is_partial" in counts.columns:
        partial_periods = counts.loc[counts["is_partial"], "period"].drop_duplicates().tolist()
    for period in partial_periods:
        i = periods.index(period)
        fig.add_vrect(
            x0=i - 0.5,
            x1=i + 0.5,
            fillcolor=PARTIAL_FILL,
            line={"color": "#e08a00", "width": 1, "dash": "dot"},
            layer="below",
            name=PARTIAL_NOTE,
        )
        fig.add_annotation(
            text=PARTIAL_NOTE,
            x=i,
            xref="x",
            yref="paper",
            y=1.0,
            yanchor="bottom",
            showarrow=False,
            font={"size": 11, "color": "#b36b00"},
            name=PARTIAL_NOTE,
        )
    if sparse_periods:
        fig.add_annotation(
            text="grey: periods with very few papers",
            xref="paper",
            yref="paper",
            x=0,
            y=1.08,
            showarrow=False,
            font={"size": 11, "color": "#666"},
            xanchor="left",
        )
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        xaxis={"type": "category", "title": None},
        yaxis={
            "title": "share of papers" if measure == "share" else "papers",
            "tickformat": ".0%" if measure == "share" else None,
            "rangemode": "tozero",
        },
        legend={"orientation": "h", "y": -0.15},
        hovermode="closest",
    )
    return fig


def theme_sizes_figure(summary: pd.DataFrame, colors: dict[str, str] | None = None) -> go.Figure:
    """Horizontal bars of theme sizes (output of `theme_summary`), growth as bar text."""
    summary = summary.sort_values("n_papers")
    growth = [
        f"{g:+.0%} vs previous" + (" (few papers)" if s else "")
        for g, s in zip(summary["growth"], summary["is_sparse"], strict=True)
    ]
    fig = go.Figure(
        go.Bar(
            x=summary["n_papers"],
            y=[html.escape(str(n)) for n in summary["name"]],
            orientation="h",
            text=growth,
            textposition="auto",
            marker={"color": [(colors or {}).get(t, MUTED) for t in summary["theme_id"]]},
            hovertemplate="%{y}: %{x} papers<extra></extra>",
        )
    )
    fig.update_layout(
        height=max(220, 60 * len(summary) + 60),
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        xaxis={"title": "papers"},
    )
    return fig


def bar_figure(
    labels: list[str],
    values: list[float],
    *,
    x_title: str,
    color: str = "#1f77b4",
    percent: bool = False,
) -> go.Figure:
    """A simple horizontal bar chart, first label on top (keywords, theme mix)."""
    fig = go.Figure(
        go.Bar(
            x=list(values)[::-1],
            y=[html.escape(str(v)) for v in labels][::-1],
            orientation="h",
            marker={"color": color},
            hovertemplate="%{y}: %{x}<extra></extra>",
        )
    )
    fig.update_layout(
        height=max(200, 28 * len(labels) + 80),
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        xaxis={"title": x_title, "tickformat": ".0%" if percent else None},
    )
    return fig


def keyword_figure(counts: pd.DataFrame) -> go.Figure:
    """Bars of how many papers of a cluster mention each of its keywords (best keyword on top)."""
    return bar_figure(
        counts["keyword"].tolist(), counts["n_papers"].tolist(), x_title="papers mentioning it"
    )


def theme_mix_figure(mix: pd.DataFrame, colors: dict[str, str] | None = None) -> go.Figure:
    """Bars of the share of each theme among a cluster's papers."""
    fig = bar_figure(
        mix["theme_name"].tolist(), mix["share"].tolist(), x_title="share of papers", percent=True
    )
    fig.data[0].marker.color = [(colors or {}).get(t, MUTED) for t in mix["theme_id"]][::-1]
    return fig
