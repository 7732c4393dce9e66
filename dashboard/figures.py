"""Pure Plotly figure builders: plain DataFrames (or, for the map, the layers decided by
`layers.map_layers`) in, `go.Figure` out; they only draw (no Streamlit, no I/O).

Paper text placed in figures (hover, labels) is HTML-escaped first: Plotly renders a few tags.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.density import Density
from dashboard.layers import MapLayers, PointLayer
from dashboard.palette import DENSITY_DARK, DENSITY_LIGHT, MUTED
from dashboard.transforms import FEW_PAPERS

SPARSE_FILL = "rgba(120,120,120,0.13)"
PARTIAL_FILL = "rgba(255,165,0,0.12)"  # a period the data stops inside (incomplete)
PARTIAL_NOTE = "partial period"
LABEL_BOX = "rgba(255,255,255,0.7)"  # a map label's box
LABEL_BOX_FILTERED = "rgba(255,255,255,0)"  # ... with filters on: none, the matches show
LABEL_INK_FILTERED = "rgba(17,17,17,0.6)"


def count_axis(largest: float) -> dict:
    """Axis settings for a count: whole-number ticks (never 0.2 papers), one per paper when
    the largest count is small."""
    return {"tickformat": ",d", **({"dtick": 1} if largest <= 6 else {})}


def _points(layer: PointLayer) -> go.Scattergl:
    """One layer of papers as WebGL markers; each point carries its paper row in customdata."""
    kw = {}
    if layer.hover is None:
        kw["hoverinfo"] = "skip"
    else:
        kw["hovertext"] = layer.hover
        kw["hovertemplate"] = (
            "%{hovertext}<br>%{fullData.name}<extra></extra>"
            if layer.hover_adds_name
            else "%{hovertext}<extra></extra>"
        )
    if not layer.in_legend:
        kw["showlegend"] = False
    if layer.legend_group is not None:
        kw["legendgroup"] = layer.legend_group
    return go.Scattergl(
        x=layer.map_x,
        y=layer.map_y,
        mode="markers",
        name=layer.name,
        marker={"color": layer.color, "size": layer.size, "opacity": layer.opacity},
        customdata=layer.rows,
        **kw,
    )


def density_colorscale(most: int) -> list[list]:
    """A Plotly colour scale for counts 0..`most`: 0 transparent, then DENSITY_LIGHT at one
    paper to DENSITY_DARK at `most`, evenly in log(count) (stops at 1, 2, 4, 8, ... papers)."""
    most = max(int(most), 2)
    stops = [[0.0, "rgba(0,0,0,0)"], [0.5 / most, "rgba(0,0,0,0)"]]
    counts = [2.0**k for k in range(int(np.log2(most)) + 1)] + [float(most)]
    for count in sorted(set(counts)):
        t = np.log(count) / np.log(most)
        rgb = [round(a + (b - a) * t) for a, b in zip(DENSITY_LIGHT, DENSITY_DARK, strict=True)]
        stops.append([count / most, f"rgb({rgb[0]},{rgb[1]},{rgb[2]})"])
    return stops


def _density(grid: Density) -> go.Heatmap:
    """The density of a large map as one heatmap of paper counts (no hover, so a click or a
    hover reaches the points drawn over it)."""
    most = int(grid.counts.max(initial=0))
    return go.Heatmap(
        z=grid.counts,
        x0=grid.x0,
        dx=grid.size,
        y0=grid.y0,
        dy=grid.size,
        zmin=0,
        zmax=max(most, 2),
        colorscale=density_colorscale(most),
        showscale=False,
        hoverinfo="skip",
        name="density of all papers",
    )


def map_figure(layers: MapLayers, *, height: int = 640) -> go.Figure:
    """The paper map drawn from its layers (decided by `layers.map_layers`): the density of a
    large map under the point layers in order, a red ring on the chosen paper, cluster labels
    as annotations, the density's note in a corner, and the axes fixed to the zoom window when
    there is one."""
    density = [] if layers.density is None else [_density(layers.density)]
    fig = go.Figure(density + [_points(layer) for layer in layers.points])
    if layers.chosen is not None:
        fig.add_trace(
            go.Scatter(
                x=np.array(layers.chosen[:1]),
                y=np.array(layers.chosen[1:]),
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
    # Annotations, not a text trace: WebGL points would be drawn over an SVG text trace. The
    # annotations are drawn above the points, so with filters on they lose their box and fade
    # (the matches under a label stay visible).
    box, ink = (
        (LABEL_BOX_FILTERED, LABEL_INK_FILTERED) if layers.is_filtered else (LABEL_BOX, "#111")
    )
    # All at once: each add_annotation validates every annotation again (quadratic: 0.7 s for
    # 30 labels).
    notes = [
        {
            "x": float(rec.map_x),
            "y": float(rec.map_y),
            "text": rec.text,
            "showarrow": False,
            "font": {"size": 12, "color": ink},
            "bgcolor": box,
            "borderpad": 1,
            "name": "cluster label",
        }
        for rec in layers.labels.itertuples(index=False)
    ]
    if layers.note:
        notes.append(
            {
                "text": html.escape(layers.note),
                "xref": "paper",
                "yref": "paper",
                "x": 0.0,
                "y": 0.0,
                "xanchor": "left",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 11, "color": "#555"},
                "bgcolor": "rgba(255,255,255,0.75)",
                "name": "density note",
            }
        )
    fig.update_layout(
        annotations=notes,
        height=height,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        xaxis={"visible": False},
        yaxis={"visible": False, "scaleanchor": "x"},
        # not lasso: a click selects a point (opens its paper) only outside box/lasso mode;
        # the toolbar offers box and lasso
        dragmode="zoom",
        legend={"orientation": "h", "y": 1.02, "x": 0, "itemsizing": "constant"},
        plot_bgcolor="white",
    )
    if layers.window is not None:
        fig.update_xaxes(range=list(layers.window[:2]))
        fig.update_yaxes(range=list(layers.window[2:]))
        if layers.density is None:  # a cluster fills its small chart; a region keeps its shape
            fig.update_layout(yaxis={"scaleanchor": None})
    return fig


def _expected_traces(fig: go.Figure, counts, measure: str, names: dict, colors) -> None:
    """Per group, after the hard-count lines (so click positions keep their trace numbers): a
    dashed line of the expected papers and a light band of its 95% interval."""
    suffix = "_share" if measure == "share" else ""
    for group, frame in counts.groupby("group", sort=True):
        label = html.escape(str(names.get(group, group)))
        color = (colors or {}).get(group, "#7f7f7f")
        x = frame["period"].tolist()
        fig.add_trace(
            go.Scatter(
                x=x + x[::-1],
                y=frame[f"high{suffix}"].tolist() + frame[f"low{suffix}"].tolist()[::-1],
                fill="toself",
                fillcolor=color,
                opacity=0.15,
                line={"width": 0},
                hoverinfo="skip",
                showlegend=False,
                name=f"{label}: 95% band",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=frame[f"expected{suffix}"],
                mode="lines",
                line={"color": color, "dash": "dash", "width": 1.5},
                name=f"{label} (expected)",
                hovertemplate="%{fullData.name}<br>%{x}: %{y:.1f}<extra></extra>",
            )
        )


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

    `measure` is "n_papers" or "share". With `expected`, `low` and `high` columns (see
    `transforms.with_expected`), each line also gets a dashed expected line and its 95% band
    (not with stacked areas). Sparse periods (`is_sparse`) are shaded grey and their
    points drawn hollow, so nobody reads a trend from two papers. A partial period (optional
    `is_partial`: the data stops inside it) gets a dashed orange band labelled PARTIAL_NOTE and
    hollow points, so its drop is not read as a decline. All grey bands are one path shape, and
    all orange ones another, so drawing stays linear in the number of periods.
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
            # the name comes from the trace: a label holding %{...} is never a placeholder
            "hovertemplate": "%{fullData.name}<br>%{x}: %{y}"
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
    if "expected" in counts.columns and style != "area":
        _expected_traces(fig, counts, measure, names, colors)
    by_period = counts.drop_duplicates("period").set_index("period")
    sparse_periods = by_period.index[by_period["is_sparse"].to_numpy(bool)].tolist()
    partial = by_period.get("is_partial", pd.Series(False, index=by_period.index))
    partial_periods = by_period.index[partial.to_numpy(bool)].tolist()
    # One path shape per kind of band, whatever the number of periods: a shape per period makes
    # Plotly re-check every shape on each addition (quadratic: minutes at a few thousand).
    if sparse_periods:
        fig.add_shape(
            type="path",
            path=_band_path(by_period["is_sparse"].to_numpy(bool)),
            xref="x",
            yref="paper",
            fillcolor=SPARSE_FILL,
            line_width=0,
            layer="below",
            name="sparse period",
        )
    if partial_periods:
        fig.add_shape(
            type="path",
            path=_band_path(partial.to_numpy(bool)),
            xref="x",
            yref="paper",
            fillcolor=PARTIAL_FILL,
            line={"color": "#e08a00", "width": 1, "dash": "dot"},
            layer="below",
            name=PARTIAL_NOTE,
        )
    position = {period: i for i, period in enumerate(periods)}
    for period in partial_periods:
        fig.add_annotation(
            text=PARTIAL_NOTE,
            x=position[period],
            xref="x",
            yref="paper",
            y=0.99,  # inside the plot: above it the chart toolbar would cover it
            yanchor="top",
            showarrow=False,
            font={"size": 11, "color": "#b36b00"},
            bgcolor="rgba(255,255,255,0.75)",
            name=PARTIAL_NOTE,
        )
    if sparse_periods:
        fig.add_annotation(
            text="grey: periods with very few papers",
            xref="paper",
            yref="paper",
            x=0.01,
            y=0.99,  # inside the plot: above it, an exported chart's title would cover it
            yanchor="top",
            showarrow=False,
            font={"size": 11, "color": "#666"},
            bgcolor="rgba(255,255,255,0.75)",
            xanchor="left",
        )
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        # automargin: month labels ("2020-01") are never cut at the chart's edge
        xaxis={"type": "category", "title": None, "automargin": True},
        yaxis={
            "title": "share of papers" if measure == "share" else "papers",
            "rangemode": "tozero",
            **(
                {"tickformat": ".0%"}
                if measure == "share"
                else count_axis(counts[measure].max() if len(counts) else 0)
            ),
        },
        legend={"orientation": "h", "y": -0.15},
        hovermode="closest",
    )
    return fig


def _band_path(flags: np.ndarray) -> str:
    """An SVG path (category positions; y in paper units 0..1) of one rectangle per run of
    consecutive flagged periods: period i spans i - 0.5 to i + 0.5."""
    edges = np.diff(np.r_[0, flags.astype(np.int8), 0])
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return " ".join(
        f"M{a - 0.5},0 L{b - 0.5},0 L{b - 0.5},1 L{a - 0.5},1 Z"
        for a, b in zip(starts, stops, strict=True)
    )


def theme_sizes_figure(summary: pd.DataFrame, colors: dict[str, str] | None = None) -> go.Figure:
    """Horizontal bars of theme sizes (output of `theme_summary`), growth as bar text."""
    summary = summary.sort_values("n_papers")
    growth = [FEW_PAPERS if pd.isna(g) else f"{g:+.0%} vs previous" for g in summary["growth"]]
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
        xaxis={"title": "papers", **count_axis(summary["n_papers"].max() if len(summary) else 0)},
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
        xaxis={
            "title": x_title,
            **({"tickformat": ".0%"} if percent else count_axis(max(values, default=0))),
        },
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


NEW_FLOW = "rgba(44,160,44,0.45)"  # papers new in the later run
DROPPED_FLOW = "rgba(214,39,40,0.40)"  # papers the later run no longer holds
FLOW = "rgba(120,130,145,0.35)"


def flow_figure(
    flows: pd.DataFrame, *, missing: str = "not in this run", height: int | None = None
) -> go.Figure:
    """A Sankey of papers flowing from the earlier run's clusters (left) to the later run's
    (right). `flows` has source and target (node names on each side) and n_papers; the same
    name on both sides stays two nodes. Papers from `missing` (new in the later run) flow in
    green, papers to `missing` (dropped) in red. Node labels carry their paper counts."""
    left = list(dict.fromkeys(flows["source"]))
    right = list(dict.fromkeys(flows["target"]))
    out_n = flows.groupby("source")["n_papers"].sum()
    in_n = flows.groupby("target")["n_papers"].sum()
    labels = [f"{html.escape(str(n))} ({int(out_n[n]):,})" for n in left]
    labels += [f"{html.escape(str(n))} ({int(in_n[n]):,})" for n in right]
    source = [left.index(s) for s in flows["source"]]
    target = [len(left) + right.index(t) for t in flows["target"]]
    color = np.where(
        flows["source"] == missing,
        NEW_FLOW,
        np.where(flows["target"] == missing, DROPPED_FLOW, FLOW),
    )
    fig = go.Figure(
        go.Sankey(
            arrangement="snap",
            node={
                "label": labels,
                "pad": 8,
                "thickness": 14,
                "color": [MUTED if n in (missing, "unassigned") else "#4c78a8" for n in left]
                + [MUTED if n in (missing, "unassigned") else "#f58518" for n in right],
                "hovertemplate": "%{label}<extra></extra>",
            },
            link={
                "source": source,
                "target": target,
                "value": flows["n_papers"].astype(int).tolist(),
                "color": color.tolist(),
                "hovertemplate": "%{source.label} → %{target.label}: %{value} papers"
                "<extra></extra>",
            },
        )
    )
    fig.update_layout(
        height=height or max(420, 18 * max(len(left), len(right)) + 80),
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
    )
    return fig


def theme_compare_figure(counts: pd.DataFrame, earlier_name: str, later_name: str) -> go.Figure:
    """Papers per theme in two runs as paired horizontal bars (output of
    `compare.theme_counts`: name, n_earlier, n_later), largest theme on top."""
    counts = counts.iloc[::-1]
    names = [html.escape(str(n)) for n in counts["name"]]
    fig = go.Figure(
        [
            go.Bar(
                x=counts[col],
                y=names,
                orientation="h",
                name=html.escape(run),
                marker={"color": color},
                hovertemplate="%{y}: %{x} papers<extra>%{fullData.name}</extra>",
            )
            for col, run, color in (
                ("n_earlier", earlier_name, "#4c78a8"),
                ("n_later", later_name, "#f58518"),
            )
        ]
    )
    fig.update_layout(
        barmode="group",
        height=max(260, 56 * len(counts) + 100),
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        xaxis={"title": "papers"},
        legend={"orientation": "h", "y": -0.15},
    )
    return fig
