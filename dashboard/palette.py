"""Colours of the dashboard's charts: one stable colour per theme and per cluster, and the muted
grey of unassigned and filtered-out papers. Theme and cluster ids in, colour strings out."""

from __future__ import annotations

import numpy as np
from plotly.colors import qualitative

from pipeline.contract import OTHER, UNASSIGNED

MUTED = "#b0b4ba"  # unassigned and filtered-out papers
OTHER_GREY = "#7f7f7f"  # the 'other' theme: papers that fit no named theme
THEME_PALETTE = qualitative.D3
CLUSTER_PALETTE = qualitative.Dark24 + qualitative.Light24


def theme_colors(theme_ids: list[str]) -> dict[str, str]:
    """A stable colour per theme (sorted ids cycle through the palette); 'other' is grey."""
    named = sorted(t for t in theme_ids if t != OTHER)
    colors = {t: THEME_PALETTE[i % len(THEME_PALETTE)] for i, t in enumerate(named)}
    colors[OTHER] = OTHER_GREY
    return colors


def cluster_color(cluster_ids: np.ndarray) -> np.ndarray:
    """A palette colour per cluster id; unassigned papers get the muted grey."""
    ids = np.asarray(cluster_ids)
    palette = np.array(CLUSTER_PALETTE, dtype=object)
    colors = palette[np.mod(ids, len(palette))]
    colors[ids == UNASSIGNED] = MUTED
    return colors
