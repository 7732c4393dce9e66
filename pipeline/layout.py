"""Layout stage: reads the paper embeddings, produces 2-D map coordinates (`map_x`, `map_y`) from
a separate seeded UMAP; the map is for people, clustering runs in its own space."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.config import LayoutConfig
from pipeline.neighbours import NeighbourGraph, neighbour_width, umap_epochs


@dataclass(frozen=True)
class LayoutResult:
    """`map_x`, `map_y`: float64 arrays of length n, finite, in input order; `model`: the fitted
    UMAP (None for PCA and the origin), which `pipeline.assign.place_on_map` reuses."""

    map_x: np.ndarray
    map_y: np.ndarray
    method: str
    model: Any = None


def layout_papers(
    embeddings: np.ndarray, config: LayoutConfig, seed: int, knn: NeighbourGraph | None = None
) -> LayoutResult:
    """Place papers on a 2-D map. UMAP from 16 papers up; PCA below (UMAP's spectral start needs
    more points than that to be stable); a single paper sits at the origin. `knn` is an optional
    precomputed cosine neighbour graph (`pipeline.neighbours.neighbour_graph`), used when its
    width equals the layout's n_neighbors."""
    n = embeddings.shape[0]
    reducer = None
    if n >= 16:
        from umap import UMAP

        n_neighbors = neighbour_width(n, config.n_neighbors)
        reducer = UMAP(
            n_neighbors=n_neighbors,
            n_components=2,
            min_dist=config.min_dist,
            metric=config.metric,
            random_state=seed,
            low_memory=True,
            n_epochs=umap_epochs(n),
            precomputed_knn=knn.for_umap(n_neighbors, config.metric) if knn else (None, None, None),
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            coords = reducer.fit_transform(embeddings)
        method = "umap"
    elif n >= 2:
        centred = embeddings - embeddings.mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        coords = centred @ vt[:2].T
        if coords.shape[1] < 2:
            coords = np.hstack([coords, np.zeros((n, 2 - coords.shape[1]))])
        # Fix the sign of each axis so the same input always gives the same picture.
        signs = np.sign(coords[np.abs(coords).argmax(axis=0), [0, 1]])
        coords = coords * np.where(signs == 0, 1, signs)
        method = "pca"
    else:
        coords = np.zeros((n, 2))
        method = "origin"
    coords = np.nan_to_num(np.asarray(coords, dtype=np.float64))
    return LayoutResult(
        map_x=coords[:, 0].copy(),
        map_y=coords[:, 1].copy(),
        method=method,
        model=reducer,
    )
