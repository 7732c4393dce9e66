"""Carry-over of a review to a re-run: another seed (cluster numbers permuted), added papers,
moved papers staying moved, unclear matches flagged, and idempotence."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

import pipeline.run
from pipeline import contract, review
from pipeline.__main__ import main
from pipeline.config import EmbedConfig, PipelineConfig
from pipeline.run import build_run
from pipeline.themes import parse_themes
from tests.fake_embedder import PLANTED_THEMES_TOML, FakeEmbedder, planted_corpus
from tests.review_helpers import base_run, write_variant

PERMUTATION = {0: 3, 1: 0, 2: 4, 3: 1, 4: 2}


@pytest.fixture
def reviewed(tmp_path):
    """A base run with names, statuses, a theme, notes and moves recorded."""
    runs = tmp_path / "runs"
    run = base_run(runs)
    store = review.ReviewStore(tmp_path / "review.sqlite")
    steps = [
        lambda s: review.rename(store, s, 0, "Data quality", reviewer="ann"),
        lambda s: review.set_status(store, s, 0, "accepted", reviewer="ann"),
        lambda s: review.set_theme(store, s, 1, "control", reviewer="ann"),
        lambda s: review.add_note(store, s, 1, "mixed bag", reviewer="bob"),
        lambda s: review.set_status(store, s, 2, "rejected", reviewer="bob"),
        lambda s: review.move(store, s, s.paper_ids(3)[:2], 0, reviewer="bob"),
        lambda s: review.move(store, s, s.paper_ids(4)[:1], contract.UNASSIGNED, reviewer="bob"),
    ]
    for step in steps:
        step(review.load_state(store, run))
    return runs, run, store


def _by_origin(state: review.ReviewState, permutation: dict[int, int]) -> dict[int, object]:
    return {old: state.cluster(new) for old, new in permutation.items()}


def test_carry_over_to_another_seed(reviewed):
    """With cluster numbers permuted, every review lands on the cluster with the same papers."""
    runs, run, store = reviewed
    new = write_variant(runs, run, "seed2", permutation=PERMUTATION)
    report = review.carry_over(store, run, new)
    assert report.count("carried") == 3 and report.count("unclear") == 0
    s = review.load_state(store, new)
    rows = _by_origin(s, PERMUTATION)
    assert rows[0]["label"] == "Data quality" and rows[0]["status"] == "accepted"
    assert rows[1]["theme_id"] == "control" and rows[1]["notes"] == ["mixed bag"]
    assert rows[2]["status"] == "rejected"
    assert rows[3]["status"] == "unreviewed" and rows[3]["label"] == f"auto label {PERMUTATION[3]}"
    assert set(s.log["reviewer"]) == {review.CARRY_OVER_REVIEWER}
    before = review.load_state(store, run)
    # moved papers stay moved: same destination by content
    old_a = before.assignments.set_index("paper_id")
    new_a = s.assignments.set_index("paper_id")
    moved = old_a.index[old_a["is_moved"]]
    assert len(moved) == 3 and new_a.loc[moved, "is_moved"].all()
    expect = old_a.loc[moved, "cluster_id"].map(lambda c: PERMUTATION.get(c, c))
    assert (new_a.loc[moved, "cluster_id"] == expect).all()
    assert report.n_moves_kept == 3 and not report.moves_flagged


def test_carry_over_with_added_papers(reviewed):
    """New papers do not break clear matches; they join the reviewed cluster unmoved."""
    runs, run, store = reviewed
    new = write_variant(runs, run, "grown", permutation=PERMUTATION, n_added=8, added_cluster=0)
    report = review.carry_over(store, run, new)
    assert report.count("carried") == 3
    s = review.load_state(store, new)
    target = s.cluster(PERMUTATION[0])
    assert target["label"] == "Data quality"
    added = s.assignments[s.assignments["paper_id"].str.startswith("arxiv:2601.")]
    assert len(added) == 8 and (added["cluster_id"] == PERMUTATION[0]).all()
    assert not added["is_moved"].any()


def test_unclear_matches_are_flagged_not_carried(reviewed):
    """A reviewed cluster split in two by the re-run carries to neither half; both are flagged."""
    runs, run, store = reviewed
    source = review.load_state(store, run)
    original = [
        p
        for p in source.paper_ids(0)
        if p in set(run.assignments.query("cluster_id == 0")["paper_id"])
    ]
    half = original[: len(original) // 2]
    # Re-run where half of cluster 0 became a cluster of its own (id 9).
    new = write_variant(runs, run, "halved")
    tables = dict(new.tables)
    a = tables["assignments"].copy()
    a.loc[a["paper_id"].isin(half), "cluster_id"] = 9
    tables["assignments"] = a
    clusters = tables["clusters"].copy()
    row = clusters[clusters["cluster_id"] == 0].copy()
    row["cluster_id"], row["label"] = 9, "other half"
    clusters = clusters.assign(n_papers=clusters["cluster_id"].map(a["cluster_id"].value_counts()))
    row["n_papers"] = len(half)
    tables["clusters"] = pd.concat([clusters, row], ignore_index=True)
    for col in ("first_published", "last_published"):
        tables["clusters"][col] = tables["clusters"][col].dt.date
    tables["papers"] = tables["papers"].assign(published=tables["papers"]["published"].dt.date)
    manifest = dataclasses.replace(new.manifest, run_id="halved2")
    contract.write_run(runs, tables, new.embeddings(mmap=False), manifest, new.theme_prior())
    halved = contract.read_run(runs, "halved2")

    report = review.carry_over(store, run, halved)
    outcomes = {m.new_cluster_id: m.outcome for m in report.matches}
    s = review.load_state(store, halved)
    assert {cid for cid, o in outcomes.items() if o == "unclear"} == {0, 9}, report.to_text()
    assert "Data quality" not in set(s.clusters["label"])
    for cid in (0, 9):
        assert any("Check this cluster" in n for n in s.cluster(cid)["notes"])
    assert len(report.moves_flagged) == 2  # moved into the halved cluster: no clear destination
    assert "unclear" in report.to_text() and "no successor" in report.to_text()


def test_carry_over_runs_once(reviewed):
    """A second carry-over into a run that already has decisions changes nothing."""
    runs, run, store = reviewed
    new = write_variant(runs, run, "seed2", permutation=PERMUTATION)
    first = review.carry_over(store, run, new)
    version = store.version(new.run_id)
    second = review.carry_over(store, run, new)
    assert first.n_decisions == version > 0
    assert second.skipped and store.version(new.run_id) == version


def test_nothing_to_carry_without_a_review(tmp_path):
    """A previous run without decisions carries nothing and says so."""
    runs = tmp_path / "runs"
    run = base_run(runs)
    store = review.ReviewStore(tmp_path / "review.sqlite")
    new = write_variant(runs, run, "again", permutation=PERMUTATION)
    report = review.carry_over(store, run, new)
    assert report.skipped and store.version(new.run_id) == 0
    assert "no review" in report.to_text()


def test_carry_over_through_the_real_pipeline(tmp_path):
    """A re-run with another seed and more papers carries each topic's review to its cluster."""
    config = PipelineConfig(embed=EmbedConfig(cache_dir=str(tmp_path / "cache")))
    runs, themes = tmp_path / "runs", parse_themes(PLANTED_THEMES_TOML)
    papers, topics = planted_corpus(n_per_topic=30, seed=0)
    first = build_run(papers, [], config, runs, themes=themes, embedder=FakeEmbedder())
    more, more_topics = planted_corpus(n_per_topic=36, seed=0)
    second = build_run(
        more, [], dataclasses.replace(config, seed=7), runs, themes=themes, embedder=FakeEmbedder()
    )
    topic_of = dict(zip([p.paper_id for p in more], more_topics, strict=True))

    store = review.ReviewStore(review.default_store_path(runs))
    old = contract.read_run(runs, first.run_id)
    state = review.load_state(store, old)
    named = 0
    for cid in state.clusters["cluster_id"]:
        if cid == contract.UNASSIGNED:
            continue
        majority = pd.Series([topic_of[p] for p in state.paper_ids(cid)]).mode()[0]
        review.rename(
            store, review.load_state(store, old), int(cid), f"topic {majority}", reviewer="ann"
        )
        named += 1
    report = review.carry_over_runs(runs, first.run_id, second.run_id)
    new_state = review.load_state(store, contract.read_run(runs, second.run_id))
    carried = [m for m in report.matches if m.outcome == "carried"]
    assert len(carried) >= named - 1, report.to_text()
    for m in carried:
        members = new_state.paper_ids(m.new_cluster_id)
        majority = pd.Series([topic_of[p] for p in members]).mode()[0]
        assert new_state.cluster(m.new_cluster_id)["label"] == f"topic {majority}"


@pytest.fixture
def fake_cli(tmp_path, monkeypatch):
    """`python -m pipeline run` with the fake embedder swapped in; returns (run it, runs folder)."""
    papers, _ = planted_corpus(n_per_topic=20, seed=0)
    cache = EmbedConfig(cache_dir=str(tmp_path / "cache"))

    def fake_run_pipeline(inputs, config, runs_dir, **kwargs):
        config = dataclasses.replace(config, embed=cache)
        return pipeline.run.build_run(papers, [], config, runs_dir, embedder=FakeEmbedder())

    monkeypatch.setattr(pipeline.run, "run_pipeline", fake_run_pipeline)
    runs = tmp_path / "runs"

    def run_command(*extra: str) -> int:
        return main(["run", "ignored.txt", "--out", str(runs), "--no-progress", *extra])

    return run_command, runs


def test_pipeline_run_command_reports_the_carry_over(fake_cli, capsys):
    """`python -m pipeline run` (fake embedder swapped in) prints what carried over."""
    run_command, runs = fake_cli
    assert run_command() == 0
    assert "carry-over" not in capsys.readouterr().out  # no previous run
    first = contract.read_run(runs)
    store = review.ReviewStore(review.default_store_path(runs))
    review.rename(store, review.load_state(store, first), 0, "Reviewed name", reviewer="ann")
    assert run_command("--seed", "7") == 0
    out = capsys.readouterr().out
    second = contract.read_run(runs)
    assert f"review carry-over from {first.run_id} to {second.run_id}" in out
    assert "'Reviewed name'" in out and "Reviewed name" in set(
        review.load_state(store, second).clusters["label"]
    )


def test_pipeline_run_with_an_unreadable_store_says_not_carried(fake_cli, capsys):
    """With a damaged store the run succeeds, says "not carried" naming the file, keeps it."""
    run_command, runs = fake_cli
    assert run_command() == 0
    path = review.default_store_path(runs)
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 2000)  # a header, then garbage
    damaged = path.read_bytes()
    assert run_command("--seed", "7") == 0
    captured = capsys.readouterr()
    line = next(x for x in captured.out.splitlines() if "review carry-over" in x)
    assert "not carried: review log unreadable" in line and str(path) in line
    assert "Traceback" not in captured.err and path.read_bytes() == damaged
    assert len(contract.list_runs(runs)) == 2
