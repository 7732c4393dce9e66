"""The large map's density layer, decided as plain data (numpy; no Plotly, no Streamlit): a 2-D
histogram of every paper's map position (`density_grid`), the papers drawn as points over it
(`sample_rows`: a deterministic sample stratified by cluster) and which papers a box or lasso
selection covers (`region_mask`, as the selection event of `st.plotly_chart` describes it).

Why: a browser drawing 75k WebGL points (software WebGL, a laptop) needs seconds, and each
point's data travels; the histogram of a million papers is a few hundred KB and draws at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Above this many papers the map draws all papers as a density and at most MAX_POINTS as points.
DENSITY_ABOVE = 20_000
MAX_POINTS = 5_000
DENSITY_BINS = 256  # most histogram cells across the wider side of the map (square cells)
MIN_BINS = 32  # ... and fewest: about sqrt(papers) in between, so a zoomed region is not dust
MIN_PER_CLUSTER = 25  # a cluster keeps at least this many drawn points (all, when smaller)


@dataclass(frozen=True)
class Density:
    """Papers per cell of a regular grid over the map: `counts[i, j]` papers have map_y in row
    i (row 0 lowest) and map_x in column j; cell centres at x0 + j * size, y0 + i * size."""

    counts: np.ndarray  # (n_rows, n_columns), uint16 (uint32 when a cell holds more)
    x0: float  # map_x of the first column's centre
    y0: float  # map_y of the first row's centre
    size: float  # a cell's width and height, in map units

    @property
    def n_papers(self) -> int:
        return int(self.counts.sum(dtype=np.int64))


def is_dense(n_papers: int) -> bool:
    """Whether a map of `n_papers` draws a density with sampled points (not every point)."""
    return n_papers > DENSITY_ABOVE


def density_grid(
    map_x: np.ndarray,
    map_y: np.ndarray,
    extent: tuple[float, float, float, float] | None = None,
    bins: int | None = None,
) -> Density:
    """The papers at (`map_x`, `map_y`) counted on a grid of square cells, `bins` across the
    wider side of `extent` (x0, x1, y0, y1; None: the papers' own bounds). Papers outside the
    extent are not counted. `bins` None: the square root of the papers counted, kept between
    MIN_BINS and DENSITY_BINS (256 from 65,536 papers on)."""
    x = np.asarray(map_x, dtype=np.float64)
    y = np.asarray(map_y, dtype=np.float64)
    if extent is None:
        extent = (
            (float(x.min()), float(x.max()), float(y.min()), float(y.max()))
            if len(x)
            else (0.0, 1.0, 0.0, 1.0)
        )
    left, right, bottom, top = extent
    inside = (x >= left) & (x <= right) & (y >= bottom) & (y <= top)
    if bins is None:
        bins = int(np.clip(np.sqrt(inside.sum()), MIN_BINS, DENSITY_BINS))
    size = max(right - left, top - bottom, 1e-9) / bins
    n_cols = max(1, int(np.ceil((right - left) / size)))
    n_rows = max(1, int(np.ceil((top - bottom) / size)))
    col = np.minimum(((x[inside] - left) / size).astype(np.int64), n_cols - 1)
    row = np.minimum(((y[inside] - bottom) / size).astype(np.int64), n_rows - 1)
    counts = np.bincount(row * n_cols + col, minlength=n_rows * n_cols)
    dtype = np.uint16 if counts.max(initial=0) <= np.iinfo(np.uint16).max else np.uint32
    return Density(
        counts.reshape(n_rows, n_cols).astype(dtype),
        x0=left + size / 2,
        y0=bottom + size / 2,
        size=size,
    )


def _row_key(rows: np.ndarray) -> np.ndarray:
    """A fixed pseudo-random key per paper row (Knuth's multiplicative hash): the same paper
    wins its stratum's draw whatever the filters, so the drawn points stay put as they change."""
    return (rows.astype(np.uint64) * np.uint64(2654435761)) % np.uint64(2**32)


def sample_rows(rows: np.ndarray, strata: np.ndarray, cap: int | None = None) -> np.ndarray:
    """`rows` (paper rows, with their cluster ids in `strata`) when there are at most `cap`
    (None: MAX_POINTS); else at most `cap` of them, sorted: every cluster keeps min(its papers,
    MIN_PER_CLUSTER) (fewer when there are too many clusters for that), the rest of the cap is
    shared in proportion to the papers left, so small clusters stay visible. Deterministic."""
    rows = np.asarray(rows)
    cap = MAX_POINTS if cap is None else cap
    if len(rows) <= cap:
        return np.sort(rows)
    _, group, sizes = np.unique(np.asarray(strata), return_inverse=True, return_counts=True)
    base = np.minimum(sizes, min(MIN_PER_CLUSTER, cap // len(sizes)))
    spare = sizes - base
    quota = base + (cap - base.sum()) * spare // max(int(spare.sum()), 1)
    order = np.lexsort((_row_key(rows), group))  # by cluster, then by the row's fixed key
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    rank = np.arange(len(rows)) - starts[group[order]]
    return np.sort(rows[order[rank < quota[group[order]]]])


def _in_polygon(x: np.ndarray, y: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Which points (x, y) lie inside the polygon (px, py) (even-odd rule)."""
    inside = np.zeros(len(x), dtype=bool)
    for i in range(len(px)):
        xi, yi, xj, yj = px[i], py[i], px[i - 1], py[i - 1]
        crosses = (yi > y) != (yj > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = (xj - xi) * (y - yi) / (yj - yi) + xi
        inside ^= crosses & (x < at)
    return inside


def region_mask(map_x: np.ndarray, map_y: np.ndarray, selection: dict) -> np.ndarray | None:
    """Which papers lie inside the boxes and lassos of a chart `selection` (Streamlit's
    selection state: "box" [{"x": [x0, x1], "y": [y0, y1]}], "lasso" [{"x": [...], "y":
    [...]}]); None when it holds neither (a click on a point)."""
    boxes, lassos = selection.get("box") or [], selection.get("lasso") or []
    if not boxes and not lassos:
        return None
    x = np.asarray(map_x, dtype=np.float64)
    y = np.asarray(map_y, dtype=np.float64)
    inside = np.zeros(len(x), dtype=bool)
    for box in boxes:
        (x0, x1), (y0, y1) = sorted(box["x"]), sorted(box["y"])
        inside |= (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
    for lasso in lassos:
        px, py = np.asarray(lasso["x"], dtype=np.float64), np.asarray(lasso["y"], dtype=np.float64)
        near = (x >= px.min()) & (x <= px.max()) & (y >= py.min()) & (y <= py.max())
        at = np.flatnonzero(near & ~inside)
        inside[at] = _in_polygon(x[at], y[at], px, py)
    return inside
