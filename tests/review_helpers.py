"""Runs for review tests: a base synthetic run (tests/run_factory.make_run) and variants of it
written through pipeline.contract, as a re-run would give: cluster numbers permuted (another
seed), papers added, labels regenerated."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import contract
from pipeline.decisions import counts_by_period
from tests.run_factory import make_run


def base_run(
    runs_dir: Path, n_papers: int = 60, n_clusters: int = 5, run_id: str = "base"
) -> contract.Run:
    """A synthetic run with planted clusters, read back through the contract."""
    make_run(runs_dir, n_papers, seed=0, n_clusters=n_clusters, run_id=run_id)
    return contract.read_run(runs_dir, run_id)


def write_variant(
    runs_dir: Path,
    source: contract.Run,
    run_id: str,
    *,
    permutation: dict[int, int] | None = None,
    n_added: int = 0,
    added_cluster: int = 0,
    seed: int = 1,
) -> contract.Run:
    """Write a re-run of `source`: cluster ids renumbered by `permutation`, labels regenerated,
    `n_added` new papers appended to (source) cluster `added_cluster`; every derived table is
    recomputed from the assignments."""
    rng = np.random.default_rng(seed)
    papers = source.papers.copy()
    assignments = source.assignments.copy()
    emb = np.asarray(source.embeddings(mmap=False), dtype=np.float32)
    if n_added:
        template = papers[assignments["cluster_id"] == added_cluster].iloc[0]
        rows = []
        for i in range(n_added):
            row = template.to_dict()
            row.update(
                paper_id=f"arxiv:2601.{i:05d}",
                title=f"Added paper {i}",
                arxiv_id=f"2601.{i:05d}",
                url=f"https://arxiv.org/abs/2601.{i:05d}",
                source_location=f"record {len(papers) + i + 1}",
            )
            rows.append(row)
        papers = pd.concat([papers, pd.DataFrame(rows)], ignore_index=True)
        member = assignments[assignments["cluster_id"] == added_cluster].iloc[0].to_dict()
        added = pd.DataFrame([{**member, "paper_id": r["paper_id"]} for r in rows])
        assignments = pd.concat([assignments, added], ignore_index=True)
        centre = emb[(source.assignments["cluster_id"] == added_cluster).to_numpy()].mean(axis=0)
        extra = centre + rng.normal(0, 0.05, (n_added, emb.shape[1])).astype(np.float32)
        emb = np.vstack([emb, extra]).astype(np.float32)
    perm = dict(permutation or {})
    renumber = lambda c: perm.get(int(c), int(c))  # noqa: E731
    assignments["cluster_id"] = assignments["cluster_id"].map(renumber).astype("int64")
    assignments["initial_cluster_id"] = assignments["cluster_id"]
    published = pd.to_datetime(papers["published"])
    clusters = []
    for cid, members in assignments.groupby("cluster_id"):
        mix = members["theme_id"].value_counts()
        dates = published[members.index]
        clusters.append(
            {
                "cluster_id": int(cid),
                "label": f"auto label {cid}" if cid >= 0 else "Unassigned",
                "keywords": [f"kw{cid}a", f"kw{cid}b"],
                "n_papers": len(members),
                "theme_id": mix.index[0],
                "theme_share": float(mix.iloc[0] / len(members)),
                "representative_paper_ids": members["paper_id"].head(3).tolist(),
                "first_published": dates.min(),
                "last_published": dates.max(),
                "map_x": float(members["map_x"].median()),
                "map_y": float(members["map_y"].median()),
            }
        )
    cluster_themes = (
        assignments.groupby(["cluster_id", "theme_id"]).size().rename("n_papers").reset_index()
    )
    cluster_themes["share"] = cluster_themes["n_papers"] / cluster_themes["cluster_id"].map(
        assignments.groupby("cluster_id").size()
    )
    clusters_df = pd.DataFrame(clusters)
    themes = source.themes.copy()
    themes["n_papers"] = (
        themes["theme_id"].map(assignments["theme_id"].value_counts()).fillna(0).astype(int)
    )
    themes["n_clusters"] = (
        themes["theme_id"]
        .map(clusters_df.loc[clusters_df["cluster_id"] >= 0, "theme_id"].value_counts())
        .fillna(0)
        .astype(int)
    )
    tables = {
        "papers": papers,
        "assignments": assignments,
        "clusters": clusters_df,
        "cluster_themes": cluster_themes,
        "themes": themes,
        "theme_timeline": counts_by_period(papers, assignments["theme_id"], "theme_id"),
        "cluster_timeline": counts_by_period(papers, assignments["cluster_id"], "cluster_id"),
        "hierarchy": source.hierarchy.iloc[0:0],
        "rejections": source.rejections.iloc[0:0],
    }
    for name in ("theme_timeline", "cluster_timeline"):
        tables[name]["period_start"] = pd.to_datetime(tables[name]["period_start"]).dt.date
    for col in ("first_published", "last_published"):
        clusters_df[col] = clusters_df[col].dt.date
    papers["published"] = published.dt.date
    manifest = {k: v for k, v in source.manifest.items() if k in contract.MANIFEST_KEYS}
    manifest.update(seed=seed, created_at=pd.Timestamp.now(tz="UTC").isoformat())
    contract.write_run(runs_dir, run_id, tables, emb, manifest)
    return contract.read_run(runs_dir, run_id)
