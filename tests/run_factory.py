"""Synthetic run folders for dashboard tests and benchmarks, written through pipeline.contract.

`make_run` plants clusters, themes, map coordinates and embeddings; titles and
abstracts are generated, or taken from a given DataFrame (e.g. the real 75k arXiv corpus), in
which case the text is real but every cluster/theme assignment is synthetic.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import contract, derive
from pipeline.themes.model import softmax

SCRIPT_TITLE = "<script>alert(1)</script> **bold** $x^2$"
THEMES = (
    ("pretraining-data", "Pretraining data", "What language models are pretrained on."),
    ("continual-pretraining", "Continual pretraining", "Continuing to pretrain a model."),
    ("rl-post-training", "RL post-training", "Reinforcement learning after pretraining."),
    ("control", "Control", "Controllable generation and control policies."),
)
_WORDS = (
    "data mixture quality filtering toxicity dedup scaling curriculum forgetting replay domain "
    "rewarming reward preference policy dpo rlhf reasoning alignment steering attribute robot "
    "imitation offline agent planning tokenizer multilingual synthetic distillation retrieval "
    "vision speech code math safety benchmark evaluation memory compression sparse expert"
).split()


def planted_prior(theme_ids: pd.Series, class_ids: list[str], rng) -> np.ndarray:
    """Prior theme logits that agree with the planted themes: the paper's own class well above
    the others (with a little noise), "other" last at the default min_score."""
    column = {c: j for j, c in enumerate(class_ids)}
    prior = rng.normal(0.0, 0.5, (len(theme_ids), len(class_ids))).astype(np.float32)
    prior[:, -1] = 3.0
    prior[np.arange(len(theme_ids)), [column[t] for t in theme_ids]] = 6.0
    return prior


def make_run(
    runs_dir: str | Path,
    n_papers: int = 75,
    seed: int = 0,
    *,
    texts: pd.DataFrame | None = None,
    n_clusters: int | None = None,
    run_id: str | None = None,
    dim: int = 32,
    include_script_title: bool = True,
    start: str = "2024-01-01",
    end: str = "2025-12-31",
    dates: Sequence[dt.date | None] | None = None,
    theme_names: Sequence[str] | None = None,
    embeddings: np.ndarray | None = None,
    embedding_model: str = "synthetic",
) -> str:
    """Write a valid synthetic run into `runs_dir` and return its run id.

    `texts` may hold columns title, abstract and optionally authors (";"-separated string or
    list), arxiv_id and listing_date; its first `n_papers` rows are used. Paper 0 gets the
    unsafe title `SCRIPT_TITLE` unless `include_script_title` is False. About 8% of papers are
    unassigned (cluster -1); the rest fall into `n_clusters` planted clusters, each with a
    dominant theme that most of its papers share. Papers are dated from `start` to `end`
    (later clusters skewed towards the end), unless `dates` gives each paper's date (None:
    undated) or `texts` has a listing_date column. `theme_names` renames the THEMES in order
    (their ids stay). `embeddings` (n_papers rows, unit length) replace the planted ones, made
    by `embedding_model` (the manifest's; "synthetic" cannot embed a query: search by words).
    """
    if dates is not None and len(dates) != n_papers:
        raise ValueError(f"dates: {len(dates)} dates for {n_papers} papers")
    rng = np.random.default_rng(seed)
    n_clusters = n_clusters or max(4, int(np.sqrt(n_papers) / 2))
    run_id = run_id or f"run-{n_papers}-seed{seed}"

    cluster_id = rng.integers(0, n_clusters, n_papers)
    noise = rng.random(n_papers) < 0.08
    noise[: min(n_papers, n_clusters)] = False  # every cluster keeps members
    cluster_id[: min(n_papers, n_clusters)] = np.arange(min(n_papers, n_clusters))
    final_cluster = np.where(noise, -1, cluster_id)
    theme_ids = [t[0] for t in THEMES]
    cluster_theme = np.array([theme_ids[k % len(theme_ids)] for k in range(n_clusters)])
    paper_theme = cluster_theme[cluster_id].astype(object)
    flip = rng.random(n_papers) < 0.12
    paper_theme[flip] = "other"
    cluster_words = [
        [_WORDS[(3 * k + j) % len(_WORDS)] for j in range(5)] for k in range(n_clusters)
    ]

    # Map: cluster centres on a ring of rings, papers scattered around them.
    angle = np.linspace(0, 2 * np.pi, n_clusters, endpoint=False)
    radius = 6 + 3 * (np.arange(n_clusters) % 3)
    centres = np.c_[radius * np.cos(angle), radius * np.sin(angle)]
    xy = centres[cluster_id] + rng.normal(0, 0.8, (n_papers, 2))
    xy[noise] = rng.uniform(-12, 12, (int(noise.sum()), 2))

    # Embeddings: one direction per cluster plus noise, unit length.
    directions = rng.normal(size=(n_clusters, dim))
    emb = directions[cluster_id] + rng.normal(0, 0.6, (n_papers, dim))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    if embeddings is not None:
        emb = np.asarray(embeddings, dtype=np.float64)

    if texts is not None:
        texts = texts.iloc[:n_papers].reset_index(drop=True)
        titles = texts["title"].astype(str).tolist()
        abstracts = texts["abstract"].astype(str).tolist()
        raw_authors = texts["authors"] if "authors" in texts else [[] for _ in range(n_papers)]
        authors = [
            [a.strip() for a in v.split(";") if a.strip()] if isinstance(v, str) else list(v)
            for v in raw_authors
        ]
        arxiv_ids = (
            texts["arxiv_id"].astype(str).tolist()
            if "arxiv_id" in texts
            else [f"2501.{i:05d}" for i in range(n_papers)]
        )
        if dates is None and "listing_date" in texts:
            dates = [dt.date.fromisoformat(d) for d in texts["listing_date"].astype(str)]
    else:
        titles, abstracts, authors = [], [], []
        for i in range(n_papers):
            words = cluster_words[cluster_id[i]]
            titles.append(f"{words[0].title()} {words[1]} study {i}")
            abstracts.append(
                f"We study {words[0]} and {words[1]} with {words[2]}; {words[3]} helps {words[4]}."
            )
            authors.append([f"Author {i % 7}", f"Coauthor {i % 11}"])
        arxiv_ids = [f"2501.{i:05d}" for i in range(n_papers)]
    if dates is None:
        span = (dt.date.fromisoformat(end) - dt.date.fromisoformat(start)).days
        # later clusters grow faster: skew their dates towards the end
        skew = (cluster_id % 3) / 3.0
        frac = rng.random(n_papers) ** (1.0 / (1.0 + 2 * skew))
        dates = [dt.date.fromisoformat(start) + dt.timedelta(days=int(f * span)) for f in frac]
    if include_script_title and n_papers:
        titles[0] = SCRIPT_TITLE

    paper_ids = [f"arxiv:{a}" for a in arxiv_ids]
    papers = pd.DataFrame(
        {
            "paper_id": paper_ids,
            "title": titles,
            "abstract": abstracts,
            "published": dates,
            "date_precision": ["day"] * n_papers,
            "authors": authors,
            "url": [f"https://arxiv.org/abs/{a}" for a in arxiv_ids],
            "categories": [["cs.CL"]] * n_papers,
            "arxiv_id": arxiv_ids,
            "doi": [None] * n_papers,
            "source_file": ["synthetic.txt"] * n_papers,
            "source_location": [f"record {i + 1}" for i in range(n_papers)],
            "extra": ["{}"] * n_papers,
        }
    )
    prob = np.where(noise, 0.0, rng.uniform(0.3, 1.0, n_papers))
    assignments = pd.DataFrame(
        {
            "paper_id": paper_ids,
            "cluster_id": final_cluster.astype(np.int64),
            "initial_cluster_id": final_cluster.astype(np.int64),
            "is_reassigned": np.zeros(n_papers, dtype=bool),
            "cluster_probability": prob,
            "theme_id": paper_theme.astype(str),
            "theme_probability": np.zeros(n_papers),
            "secondary_theme_id": [None] * n_papers,
            "map_x": xy[:, 0],
            "map_y": xy[:, 1],
        }
    )

    labels = {k: " ".join(words[:3]) for k, words in enumerate(cluster_words)}
    keywords = dict(enumerate(cluster_words))
    representatives = {
        int(cid): members.sort_values("cluster_probability", ascending=False)["paper_id"]
        .head(3)
        .tolist()
        for cid, members in assignments.groupby("cluster_id")
    }
    clusters = derive.clusters_table(
        assignments, papers["published"], labels, keywords, representatives
    )
    definitions = pd.DataFrame(
        [
            {
                "theme_id": tid,
                "name": name,
                "description": desc,
                "key_terms": [],
                "is_generated": False,
            }
            for (tid, _, desc), name in zip(
                THEMES, theme_names or [t[1] for t in THEMES], strict=False
            )
        ]
    )
    themes = derive.themes_table(definitions, assignments["theme_id"], clusters)
    prior = planted_prior(assignments["theme_id"], themes["theme_id"].tolist(), rng)
    assignments["theme_probability"] = softmax(prior).max(axis=1).astype(np.float64)
    ids = list(range(n_clusters))
    hier_rows, next_id, current = [], n_clusters, ids[0]
    leaves = {k: [k] for k in ids}
    for k in ids[1:]:
        leaves[next_id] = leaves[current] + [k]
        hier_rows.append(
            {
                "parent_id": next_id,
                "parent_name": f"merge {next_id}",
                "child_left_id": current,
                "child_right_id": k,
                "distance": float(k),
                "cluster_ids": leaves[next_id],
            }
        )
        current, next_id = next_id, next_id + 1
    hierarchy = pd.DataFrame(hier_rows, columns=[c.name for c in contract.TABLES["hierarchy"]])
    rejections = pd.DataFrame(
        [
            {
                "source_file": "synthetic.txt",
                "source_location": "line 3",
                "reason": "no abstract",
                "severity": "rejected",
                "raw": "Untitled",
            }
        ]
    )
    tables = {
        "papers": papers,
        "assignments": assignments,
        "clusters": clusters,
        "themes": themes,
        "hierarchy": hierarchy,
        "theme_labels": pd.DataFrame(columns=[c.name for c in contract.TABLES["theme_labels"]]),
        "rejections": rejections,
    }
    manifest = contract.Manifest(
        run_id=run_id,
        created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC).isoformat()
        if seed == 0
        else dt.datetime.now(dt.UTC).isoformat(),
        inputs=(contract.InputFile(path="synthetic.txt", sha256="0" * 64, n_bytes=0),),
        config={"synthetic": True},
        seed=seed,
        embedding_model=embedding_model,
        counts=contract.Counts(
            n_papers=n_papers,
            n_rejected=1,
            n_warnings=0,
            n_clusters=n_clusters,
            n_unassigned=int(noise.sum()),
            n_themes=len(THEMES),
        ),
        timings_s={},
        packages={},
        themes_file=None,
        theme_method="synthetic",
        cluster_params={},
        embedding_cache={"n_cached": 0, "n_embedded": 0},
        theme_labels={"examples": 0, "answers": 0},
        warnings=(),
    )
    contract.write_run(runs_dir, tables, emb.astype(np.float32), manifest, prior)
    return run_id


def make_incompatible_run(runs_dir: str | Path, run_id: str = "old-run") -> str:
    """Write a valid run, then mark its manifest with a future schema version."""
    make_run(runs_dir, 20, seed=1, run_id=run_id)
    path = Path(runs_dir) / run_id / contract.MANIFEST
    manifest = json.loads(path.read_text())
    manifest["schema_version"] = contract.SCHEMA_VERSION + 1
    path.write_text(json.dumps(manifest))
    return run_id
