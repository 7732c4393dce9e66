"""Colours of the dashboard's charts: one stable colour per theme and per cluster, and the
greys of filtered-out papers, unassigned papers and the 'other' theme. Theme and cluster ids
in, colour strings out."""

from __future__ import annotations

import numpy as np
from plotly.colors import qualitative

from pipeline.contract import OTHER, UNASSIGNED

# Three greys told apart by lightness (they were three alike greys on the map):
CONTEXT_GREY = "#d5d8dc"  # papers outside the filters (drawn faint as well)
MUTED = "#a3a8af"  # unassigned papers
OTHER_GREY = "#56606b"  # the 'other' theme: papers that fit no named theme
# The density of a large map, by the logarithm of the papers per cell: a pale slate blue, so
# the greys of the points drawn over it (unassigned, 'other') still stand out.
DENSITY_LIGHT, DENSITY_DARK = (230, 235, 244), (128, 146, 178)
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
