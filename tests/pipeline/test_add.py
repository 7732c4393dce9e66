"""`python -m pipeline add`: new papers join an existing run's clusters, map and themes as a new
run (the parent's id in its manifest), every review decision is kept, and bad input is refused
in one line without touching the parent run or `latest`."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from pipeline import contract, review
from pipeline.__main__ import main
from pipeline.config import ConfigError, config_from_dict
from tests.conftest import ROOT
from tests.fake_embedder import PLANTED_THEMES_TOML, TOPIC_THEME, planted_corpus
from tests.kill_helpers import STALL_WHILE_WRITING, kill_when_marked

FAKE = "tests.fake_embedder:FakeEmbedder"
PARENT_TOPICS = ["data", "continual", "rl", "robot"]


def write_papers(path: Path, papers, prefix: str) -> list[str]:
    """Papers as a JSONL listing with arXiv ids `<prefix>.<5 digits>`; returns their paper ids."""
    ids = []
    with open(path, "w", encoding="utf-8") as handle:
        for i, p in enumerate(papers):
            arxiv_id = f"{prefix}.{i:05d}"
            ids.append(f"arxiv:{arxiv_id}")
            record = {"title": p.title, "abstract": p.abstract, "arxiv_id": arxiv_id}
            record |= {"published": p.published} if p.published else {}
            handle.write(json.dumps(record) + "\n")
    return ids


def cli(*args: str) -> int:
    return main([*args, "--embedder", FAKE])


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A parent run of 4 planted topics (30 papers each, themes file) and listings to add."""
    root = tmp_path_factory.mktemp("add")
    (root / "config.toml").write_text(f'[embed]\ncache_dir = "{root / "cache"}"\n')
    (root / "themes.toml").write_text(PLANTED_THEMES_TOML)
    papers, topics = planted_corpus(n_per_topic=30, seed=0, topics=PARENT_TOPICS)
    ids = write_papers(root / "base.jsonl", papers, "2401")
    new, new_topics = planted_corpus(n_per_topic=6, seed=7, topics=PARENT_TOPICS)
    new_ids = write_papers(root / "new.jsonl", new, "2402")
    runs = root / "runs"
    args = ["--out", str(runs), "--config", str(root / "config.toml"), "--no-progress"]
    assert cli("run", str(root / "base.jsonl"), "--themes", str(root / "themes.toml"), *args) == 0
    return {
        "root": root,
        "runs": runs,
        "config": str(root / "config.toml"),
        "parent": contract.latest_run_id(runs),
        "topic": dict(zip(ids + new_ids, topics + new_topics, strict=True)),
        "new_ids": new_ids,
    }


def fresh_runs(world, tmp_path) -> Path:
    """A copy of the parent's runs folder (and no review store) that a test may change."""
    runs = tmp_path / "data" / "runs"
    shutil.copytree(world["runs"], runs)
    return runs


def add(world, runs: Path, *inputs: Path, extra: tuple[str, ...] = ()) -> int:
    return cli("add", *map(str, inputs), "--out", str(runs), "--config", world["config"], *extra)


def test_added_papers_join_their_planted_topics_cluster(world, tmp_path, capsys):
    """New papers land in the cluster holding their planted topic, beside it on the map and in
    its theme; the parent's rows are unchanged and the new run names its parent."""
    runs = fresh_runs(world, tmp_path)
    parent = contract.read_run(runs, world["parent"])
    assert add(world, runs, world["root"] / "new.jsonl") == 0
    out = capsys.readouterr().out
    assert f"added to {parent.run_id}" in out and "24 added, 0 already in the run" in out
    child = contract.read_run(runs)
    assert child.run_id != parent.run_id and contract.latest_run_id(runs) == child.run_id
    assert child.manifest.parent_run_id == parent.run_id
    assert child.manifest.addition.n_added == 24
    assert child.manifest.embedding_cache == {"n_cached": 0, "n_embedded": 24}
    n = len(parent.papers)
    assert list(child.papers["paper_id"][:n]) == list(parent.papers["paper_id"])
    assert list(child.papers["paper_id"][n:]) == world["new_ids"]
    for col in ("cluster_id", "map_x", "map_y"):
        assert (child.assignments[col][:n].to_numpy() == parent.assignments[col].to_numpy()).all()
    assert np.array_equal(child.embeddings()[:n], parent.embeddings())
    topic = world["topic"]
    majority = {
        c: Counter(topic[p] for p in group["paper_id"]).most_common(1)[0][0]
        for c, group in parent.assignments.groupby("cluster_id")
    }
    added = child.assignments.iloc[n:]
    hits = [
        majority.get(c) == topic[p]
        for p, c in zip(added["paper_id"], added["cluster_id"], strict=True)
    ]
    assert np.mean(hits) >= 0.9
    coords = child.assignments[["map_x", "map_y"]].to_numpy()
    assert np.isfinite(coords).all()
    nearest = np.argmin(
        ((coords[n:, None, :] - coords[None, :n, :]) ** 2).sum(-1), axis=1
    )  # each added paper's nearest parent paper on the map
    parent_ids = list(parent.papers["paper_id"])
    same = [
        topic[parent_ids[j]] == topic[p] for j, p in zip(nearest, added["paper_id"], strict=True)
    ]
    assert np.mean(same) >= 0.9
    themed = [
        TOPIC_THEME[topic[p]] == t
        for p, t in zip(added["paper_id"], added["theme_id"], strict=True)
    ]
    assert np.mean(themed) >= 0.8
    sizes = child.clusters.set_index("cluster_id")["n_papers"]
    assert sizes.sum() == len(child.papers)
    assert child.themes["n_papers"].sum() == len(child.papers)
    assert contract.read_run(runs, parent.run_id).manifest == parent.manifest


def test_review_decisions_on_the_parent_appear_on_the_added_run(world, tmp_path, capsys):
    """A rename, a merge, a cluster theme, a moved paper and a theme answer on the parent are
    all in effect on the added run, and the merged cluster takes in the added papers."""
    runs = fresh_runs(world, tmp_path)
    parent = contract.read_run(runs, world["parent"])
    store = review.ReviewStore(review.default_store_path(runs))
    state = lambda: review.load_state(store, parent)  # noqa: E731
    ids = sorted(int(c) for c in parent.clusters["cluster_id"] if c != contract.UNASSIGNED)
    assert len(ids) >= 4
    review.rename(store, state(), ids[0], "Renamed by Ann", reviewer="ann")
    review.merge(store, state(), [ids[1], ids[2]], label="Merged by Ann", reviewer="ann")
    review.set_theme(store, state(), ids[3], "control", reviewer="bob")
    moved = state().paper_ids(ids[3])[0]
    review.move(store, state(), [moved], contract.UNASSIGNED, reviewer="bob")
    answered = parent.papers["paper_id"].iloc[0]
    review.answer_theme(store, state(), answered, ["rl-post-training"], reviewer="bob")
    before = state()
    assert add(world, runs, world["root"] / "new.jsonl") == 0
    assert "decisions copied" in capsys.readouterr().out
    child = contract.read_run(runs)
    after = review.load_state(store, child)
    assert after.skipped == ()
    labels = set(after.clusters["label"])
    assert {"Renamed by Ann", "Merged by Ann"} <= labels
    merged = after.clusters[after.clusters["label"] == "Merged by Ann"].iloc[0]
    assert merged["is_merged"] and sorted(merged["origin_cluster_ids"]) == [ids[1], ids[2]]
    new_in_merged = [
        p
        for p, c in zip(child.assignments["paper_id"], child.assignments["cluster_id"], strict=True)
        if c in (ids[1], ids[2]) and p in set(world["new_ids"])
    ]
    assert new_in_merged and set(new_in_merged) <= set(after.paper_ids(int(merged["cluster_id"])))
    origins = after.clusters["origin_cluster_ids"].map(list)
    themed = after.clusters[origins.map(lambda o: o == [ids[3]])].iloc[0]
    assert themed["theme_id"] == "control" and themed["is_theme_set"]
    rows = after.assignments.set_index("paper_id")
    assert rows.loc[moved, "cluster_id"] == contract.UNASSIGNED and rows.loc[moved, "is_moved"]
    assert rows.loc[answered, "theme_id"] == "rl-post-training"
    # The parent's own reviewed state is as it was.
    assert review.load_state(store, parent).clusters.equals(before.clusters)


def test_add_of_papers_all_in_the_run_writes_nothing(world, tmp_path, capsys):
    """Adding a listing whose papers are all in the run says so in one line, exits 0 and
    writes nothing."""
    runs = fresh_runs(world, tmp_path)
    listing = sorted(p.name for p in runs.iterdir())
    assert add(world, runs, world["root"] / "base.jsonl") == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("nothing to add") and "120 papers" in out and "\n" not in out
    assert sorted(p.name for p in runs.iterdir()) == listing


def test_papers_already_in_the_run_are_merged_and_counted(world, tmp_path, capsys):
    """A listing mixing run papers (same arXiv id, or the same title without an id) with new
    ones adds only the new ones and counts the others."""
    runs = fresh_runs(world, tmp_path)
    base = [json.loads(line) for line in (world["root"] / "base.jsonl").read_text().splitlines()]
    new = [json.loads(line) for line in (world["root"] / "new.jsonl").read_text().splitlines()]
    by_title = {k: v for k, v in base[3].items() if k != "arxiv_id"}
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text("".join(json.dumps(r) + "\n" for r in [*base[:3], by_title, *new[:5]]))
    assert add(world, runs, mixed) == 0
    assert "5 added, 4 already in the run" in capsys.readouterr().out
    child = contract.read_run(runs)
    assert child.manifest.addition.n_already_in_run == 4
    assert len(child.papers) == 120 + 5 and child.papers["paper_id"].is_unique


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    return err


def _unchanged(runs: Path, parent_id: str) -> None:
    assert contract.latest_run_id(runs) == parent_id
    assert [e.run_id for e in contract.list_runs(runs)] == [parent_id]


def test_add_with_another_embedding_model_is_refused(world, tmp_path, capsys):
    """A run embedded by one model refuses papers embedded by another, naming both."""
    runs = fresh_runs(world, tmp_path)
    code = main(["add", str(world["root"] / "new.jsonl"), "--out", str(runs)])
    assert code == 2
    err = _one_line_error(capsys)
    assert "fake-planted" in err and "embedded with" in err
    _unchanged(runs, world["parent"])


def test_add_to_a_run_of_another_schema_is_refused(world, tmp_path, capsys):
    """A parent written with another schema version is refused with the reason."""
    runs = fresh_runs(world, tmp_path)
    path = runs / world["parent"] / contract.MANIFEST
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps({**manifest, "schema_version": 99}))
    assert add(world, runs, world["root"] / "new.jsonl") == 2
    assert "schema version 99" in _one_line_error(capsys)


@pytest.mark.parametrize(
    "damage, words",
    [
        (lambda run: (run / "model" / contract.FITTED_MODELS).unlink(), "no saved models"),
        (
            lambda run: (run / "model" / contract.FITTED_MODELS).write_bytes(b"junk"),
            "cannot be read",
        ),
        (lambda run: (run / "assignments.parquet").write_bytes(b"junk"), "assignments.parquet"),
        (lambda run: np.save(run / contract.EMBEDDINGS, np.zeros((120, 48), np.float32)), "match"),
    ],
    ids=["models-missing", "models-junk", "table-junk", "embeddings-changed"],
)
def test_add_to_a_damaged_run_is_refused(world, tmp_path, capsys, damage, words):
    """A parent whose saved models, tables or embeddings are damaged is refused in one line and
    nothing is written."""
    runs = fresh_runs(world, tmp_path)
    damage(runs / world["parent"])
    assert add(world, runs, world["root"] / "new.jsonl") == 2
    assert words in _one_line_error(capsys)
    _unchanged(runs, world["parent"])


KILL_SCRIPT = (
    STALL_WHILE_WRITING
    + """
from pipeline.add import add_papers
from pipeline.config import load_config
from tests.fake_embedder import FakeEmbedder
add_papers([{new!r}], {runs!r}, load_config({config!r}), embedder=FakeEmbedder())
"""
)


def test_killed_add_leaves_the_parent_and_latest_intact(world, tmp_path):
    """SIGKILL while `add` writes its run leaves the parent run and `latest` untouched, and a
    later add still works."""
    runs = fresh_runs(world, tmp_path)
    marker = tmp_path / "writing"
    new = str(world["root"] / "new.jsonl")
    script = KILL_SCRIPT.format(
        root=str(ROOT), marker=str(marker), new=new, runs=str(runs), config=world["config"]
    )
    kill_when_marked(script, marker, "add")
    assert any(p.name.startswith(".tmp-") for p in runs.iterdir())  # it really died mid-write
    _unchanged(runs, world["parent"])
    parent = contract.read_run(runs)
    assert len(parent.papers) == 120 and parent.manifest.parent_run_id is None


def test_unassigned_share_over_the_threshold_recommends_a_rerun(world, tmp_path, capsys):
    """Papers of a topic the run has never seen mostly fit no cluster; past add.rerun_share the
    summary recommends a full re-run and the manifest records it; under it, it does not."""
    runs = fresh_runs(world, tmp_path)
    vision, _ = planted_corpus(n_per_topic=12, seed=3, topics=["vision"])
    write_papers(tmp_path / "vision.jsonl", vision, "2403")
    assert add(world, runs, tmp_path / "vision.jsonl", world["root"] / "new.jsonl") == 0
    out = capsys.readouterr().out
    addition = contract.read_run(runs).manifest.addition
    assert addition.n_unassigned > 0
    assert addition.is_rerun_recommended == (addition.unassigned_share > 0.05)
    assert ("full re-run" in out) == addition.is_rerun_recommended
    config = tmp_path / "lenient.toml"
    config.write_text(Path(world["config"]).read_text() + "[add]\nrerun_share = 1.0\n")
    runs2 = fresh_runs(world, tmp_path / "again")
    code = cli("add", str(tmp_path / "vision.jsonl"), "--out", str(runs2), "--config", str(config))
    assert code == 0 and "full re-run" not in capsys.readouterr().out
    assert not contract.read_run(runs2).manifest.addition.is_rerun_recommended


def test_rerun_share_is_validated():
    """add.rerun_share must be a share from 0 to 1."""
    assert config_from_dict({"add": {"rerun_share": 0.2}}).add.rerun_share == 0.2
    with pytest.raises(ConfigError, match="add.rerun_share"):
        config_from_dict({"add": {"rerun_share": 1.5}})
