"""End-to-end pipeline tests on a planted-topic corpus with the fake embedder (offline, seconds)."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from pipeline import contract, derive
from pipeline.config import EmbedConfig, PipelineConfig
from pipeline.contract import OTHER
from pipeline.run import build_run
from pipeline.themes import ThemeLabel, parse_themes
from tests.fake_embedder import (
    PLANTED_THEMES_TOML,
    TOPIC_THEME,
    TOPICS,
    FakeEmbedder,
    planted_corpus,
)


def _config(tmp_path, **changes) -> PipelineConfig:
    config = PipelineConfig(embed=EmbedConfig(cache_dir=str(tmp_path / "cache")))
    return dataclasses.replace(config, **changes)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """One themed run of the planted corpus, shared by the tests below: (papers, topics, run)."""
    tmp = tmp_path_factory.mktemp("planted")
    papers, topics = planted_corpus(n_per_topic=30, seed=0)
    summary = build_run(
        papers,
        [],
        _config(tmp),
        tmp / "runs",
        themes=parse_themes(PLANTED_THEMES_TOML),
        embedder=FakeEmbedder(),
    )
    return papers, topics, contract.read_run(tmp / "runs", summary.run_id), summary


def test_planted_topics_recovered(planted):
    """Clusters recover the planted topics (ARI >= 0.9)."""
    _, topics, run, _ = planted
    assert adjusted_rand_score(topics, run.assignments["cluster_id"]) >= 0.9


def test_run_invariants(planted):
    """Every paper appears once, sizes add up, coordinates are finite, labels are 2-4 words."""
    papers, _, run, summary = planted
    a, c = run.assignments, run.clusters
    assert list(a["paper_id"]) == [p.paper_id for p in papers]
    assert a["paper_id"].is_unique
    assert c["n_papers"].sum() == len(papers)
    assert (
        a["cluster_id"].value_counts().sort_index()
        == c.set_index("cluster_id")["n_papers"].sort_index()
    ).all()
    assert np.isfinite(a[["map_x", "map_y"]].to_numpy()).all()
    assert np.isfinite(c[["map_x", "map_y"]].to_numpy()).all()
    for label, keywords in zip(c["label"], c["keywords"], strict=True):
        assert 2 <= len(label.replace(",", " ").split()) <= 4, label
        assert keywords
    mix = derive.theme_mix(a["cluster_id"], a["theme_id"])
    assert (
        mix.groupby("cluster_id")["n_papers"].sum() == c.set_index("cluster_id")["n_papers"]
    ).all()
    assert np.allclose(mix.groupby("cluster_id")["share"].sum(), 1.0)
    themes = run.themes.set_index("theme_id")
    assert themes["n_papers"].sum() == len(papers)
    assert set(a["theme_id"]) <= set(themes.index)
    assert summary.n_unassigned == int((a["cluster_id"] == -1).sum())
    assert run.manifest.counts.n_papers == len(papers)
    assert run.embeddings().shape[0] == len(papers)


def test_reassigned_flag_matches_ids(planted):
    """is_reassigned is true exactly for HDBSCAN noise that outlier reduction moved to a cluster."""
    _, _, run, _ = planted
    a = run.assignments
    expected = (a["initial_cluster_id"] == -1) & (a["cluster_id"] != -1)
    assert (a["is_reassigned"] == expected).all()
    kept = a[a["initial_cluster_id"] != -1]
    assert (kept["initial_cluster_id"] == kept["cluster_id"]).all()


def test_keywords_describe_their_own_cluster(planted):
    """Each cluster's keywords use its planted topic's vocabulary and never another topic's."""
    _, topics, run, _ = planted
    a = run.assignments.assign(topic=topics)
    for row in run.clusters[run.clusters["cluster_id"] >= 0].itertuples():
        own = a.loc[a["cluster_id"] == row.cluster_id, "topic"].mode()[0]
        words = {w for k in row.keywords for w in k.split()}
        others = set().union(*(set(v) for t, v in TOPICS.items() if t != own))
        assert len(words & set(TOPICS[own])) >= 3, (own, row.keywords)
        assert not words & others, (own, row.keywords)
        assert set(row.label.replace(",", " ").split()) <= set(TOPICS[own]), row.label


def test_named_themes_follow_planted_topics(planted):
    """Papers get their topic's theme; the topic matching no theme stays "other"."""
    _, topics, run, _ = planted
    expected = [TOPIC_THEME[t] for t in topics]
    accuracy = np.mean(np.asarray(expected) == run.assignments["theme_id"].to_numpy())
    assert accuracy >= 0.9
    dominant = run.clusters.set_index("cluster_id")["theme_id"]
    assert (dominant == OTHER).sum() >= 1
    assert not run.themes["is_generated"].any()


def test_timelines_add_up(planted):
    """Timeline counts add up to the dated papers per period kind; shares sum to 1 per period."""
    papers, _, run, _ = planted
    n_dated = sum(p.published is not None for p in papers)
    published = run.papers["published"]
    theme_timeline = derive.timeline(published, run.assignments["theme_id"])
    cluster_timeline = derive.timeline(published, run.assignments["cluster_id"])
    for table in (theme_timeline, cluster_timeline):
        assert set(table["period_kind"]) == {"month", "quarter", "year"}
        assert (table.groupby("period_kind")["n_papers"].sum() == n_dated).all()
        assert np.allclose(table.groupby(["period_kind", "period"])["share"].sum(), 1.0)
    years = theme_timeline[theme_timeline["period_kind"] == "year"]
    assert set(years["period"]) == {"2023", "2024"}
    quarters = theme_timeline[theme_timeline["period_kind"] == "quarter"]
    assert all(re.fullmatch(r"\d{4}-Q[1-4]", p) for p in quarters["period"])


def test_hierarchy_is_a_merge_tree(planted):
    """The hierarchy has n_clusters - 1 merges whose root covers every cluster."""
    _, _, run, _ = planted
    h = run.hierarchy
    leaves = sorted(run.clusters.loc[run.clusters["cluster_id"] >= 0, "cluster_id"])
    assert len(h) == len(leaves) - 1
    root = h.loc[h["parent_id"].idxmax()]
    assert sorted(root["cluster_ids"]) == leaves
    assert (h["parent_id"] >= len(leaves)).all()


def test_same_input_and_seed_give_identical_run(planted, tmp_path):
    """Re-running with the same input and seed reproduces assignments, labels and coordinates."""
    papers, _, first, _ = planted
    summary = build_run(
        papers,
        [],
        _config(tmp_path),
        tmp_path / "runs",
        themes=parse_themes(PLANTED_THEMES_TOML),
        embedder=FakeEmbedder(),
    )
    second = contract.read_run(tmp_path / "runs", summary.run_id)
    pd.testing.assert_frame_equal(first.assignments, second.assignments)
    pd.testing.assert_frame_equal(first.clusters, second.clusters)
    pd.testing.assert_frame_equal(first.hierarchy, second.hierarchy)


def test_embedding_cache_prevents_re_embedding(planted, tmp_path):
    """A second run over the same papers and model embeds no paper again."""
    papers, _, _, _ = planted
    embedder = FakeEmbedder()
    config = _config(tmp_path)
    build_run(papers, [], config, tmp_path / "runs", embedder=embedder)
    embedder.n_encoded = 0
    summary = build_run(papers, [], config, tmp_path / "runs", embedder=embedder)
    assert summary.embed_computed == 0 and summary.embed_cached == len(papers)
    assert embedder.n_encoded == 0


def test_generated_themes_without_themes_file(planted, tmp_path):
    """Without a themes file, themes are generated: 2-8 named themes, each planted topic's
    papers (nearly) all in one of them."""
    papers, topics, _, _ = planted
    summary = build_run(papers, [], _config(tmp_path), tmp_path / "runs", embedder=FakeEmbedder())
    run = contract.read_run(tmp_path / "runs", summary.run_id)
    generated = run.themes[run.themes["theme_id"] != OTHER]
    assert 2 <= len(generated) <= 8
    assert generated["is_generated"].all()
    assert generated["name"].str.len().gt(0).all()
    assert set(run.assignments["theme_id"]) <= set(run.themes["theme_id"])
    by_topic = pd.crosstab(np.asarray(topics), run.assignments["theme_id"].to_numpy())
    assert (by_topic.max(axis=1) / by_topic.sum(axis=1)).min() >= 0.9


@pytest.mark.parametrize("n_papers", [1, 2, 5, 9, 12])
def test_tiny_corpora_never_crash(tmp_path, n_papers):
    """Corpora of 1..12 papers produce a valid run (one cluster and a warning below 10)."""
    papers, _ = planted_corpus(n_per_topic=12, seed=1, topics=["rl"])
    summary = build_run(
        papers[:n_papers],
        [],
        _config(tmp_path),
        tmp_path / "runs",
        themes=parse_themes(PLANTED_THEMES_TOML),
        embedder=FakeEmbedder(),
    )
    run = contract.read_run(tmp_path / "runs", summary.run_id)
    assert len(run.assignments) == n_papers
    assert np.isfinite(run.assignments[["map_x", "map_y"]].to_numpy()).all()
    if n_papers < 10:
        assert summary.n_clusters == 1 and summary.warnings
        assert (run.assignments["cluster_id"] == 0).all()


def test_no_cluster_found_gives_one_cluster_and_a_warning(tmp_path):
    """When HDBSCAN finds no cluster, the run holds one cluster, no reassignment, and a warning."""
    papers, _ = planted_corpus(n_per_topic=10, seed=5, topics=["rl", "robot"])
    config = _config(tmp_path)
    config = dataclasses.replace(
        config, cluster=dataclasses.replace(config.cluster, min_cluster_size=500)
    )
    summary = build_run(papers, [], config, tmp_path / "runs", embedder=FakeEmbedder())
    run = contract.read_run(tmp_path / "runs", summary.run_id)
    assert summary.n_clusters == 1 and "no cluster" in summary.warnings[0]
    assert (run.assignments["cluster_id"] == 0).all()
    assert not run.assignments["is_reassigned"].any()


def test_run_trains_with_answers_and_examples(planted, tmp_path):
    """A run given reviewers' answers and a themes file with examples uses both (manifest and
    summary count them), the answered paper takes its answer, and the run stores its prior and
    the examples found."""
    papers, topics, first, _ = planted
    vision = next(p.paper_id for p, t in zip(papers, topics, strict=True) if t == "vision")
    example = next(p.paper_id for p, t in zip(papers, topics, strict=True) if t == "data")
    themes_toml = PLANTED_THEMES_TOML.replace(
        'key_terms = ["corpus", "deduplication", "toxicity"]',
        f'key_terms = ["corpus", "deduplication", "toxicity"]\nexamples = ["{example}"]',
    )
    summary = build_run(
        papers,
        [],
        _config(tmp_path),
        tmp_path / "runs",
        themes=parse_themes(themes_toml),
        embedder=FakeEmbedder(),
        answers=[ThemeLabel(vision, ("control",)), ThemeLabel("not-in-run", ("control",))],
    )
    run = contract.read_run(tmp_path / "runs", summary.run_id)
    assert summary.theme_labels == {"examples": 1, "answers": 1}
    assert run.manifest.theme_labels == summary.theme_labels
    assert any("not-in-run: paper not in this run" in w for w in run.manifest.warnings)
    theme = run.assignments.set_index("paper_id")["theme_id"]
    assert theme[vision] == "control" and theme[example] == "pretraining-data"
    assert run.theme_prior().shape == (len(papers), len(run.themes))
    assert run.theme_labels["paper_id"].tolist() == [example]
    probs = run.assignments["theme_probability"]
    assert probs.between(0, 1).all() and probs.gt(0.5).mean() > 0.8
