"""Runs for review tests: a base synthetic run (tests/run_factory.make_run) and variants of it
written through pipeline.contract, as a re-run would give: cluster numbers permuted (another
seed), papers added, labels regenerated; and a process that obeys file modes, for read-only
stores."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline import contract, derive
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
    derived from the assignments (pipeline.derive)."""
    rng = np.random.default_rng(seed)
    papers = source.papers.copy()
    assignments = source.assignments.copy()
    emb = np.asarray(source.embeddings(mmap=False), dtype=np.float32)
    prior = source.theme_prior()
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
        template_row = int(np.flatnonzero(source.assignments["cluster_id"] == added_cluster)[0])
        prior = np.vstack([prior, np.repeat(prior[template_row : template_row + 1], n_added, 0)])
    perm = dict(permutation or {})
    renumber = lambda c: perm.get(int(c), int(c))  # noqa: E731
    assignments["cluster_id"] = assignments["cluster_id"].map(renumber).astype("int64")
    assignments["initial_cluster_id"] = assignments["cluster_id"]
    labels = {
        int(c): f"auto label {c}" if c >= 0 else "Unassigned" for c in assignments["cluster_id"]
    }
    keywords = {c: [f"kw{c}a", f"kw{c}b"] for c in labels}
    representatives = {
        int(c): members["paper_id"].head(3).tolist()
        for c, members in assignments.groupby("cluster_id")
    }
    clusters = derive.clusters_table(
        assignments, papers["published"], labels, keywords, representatives
    )
    tables = {
        "papers": papers.assign(published=pd.to_datetime(papers["published"]).dt.date),
        "assignments": assignments,
        "clusters": clusters,
        "themes": derive.with_theme_counts(source.themes, assignments["theme_id"], clusters),
        "hierarchy": source.hierarchy.iloc[0:0],
        "rejections": source.rejections.iloc[0:0],
    }
    manifest = dataclasses.replace(
        source.manifest,
        run_id=run_id,
        seed=seed,
        created_at=pd.Timestamp.now(tz="UTC").isoformat(),
    )
    tables["theme_labels"] = source.theme_labels
    contract.write_run(runs_dir, tables, emb, manifest, prior)
    return contract.read_run(runs_dir, run_id)


def without_write_permission(code: str, timeout_s: float = 120) -> dict:
    """Run `code` in a process that obeys file modes (root ignores them: it runs with the
    capabilities that bypass them dropped) and return the JSON of its last printed line; skips
    the test where modes cannot be enforced."""
    command = [sys.executable, "-c", textwrap.dedent(code)]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: file modes cannot be enforced")
        caps = "-dac_override,-dac_read_search"
        command = [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}", *command]
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=timeout_s)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])
