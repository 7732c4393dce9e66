"""The run's machine-readable progress (`--progress-file`, `ProgressFile`) and the named embedder
(`--embedder`, `embedder_from_spec`) that let the dashboard start and follow a run."""

from __future__ import annotations

import json

import pytest

from pipeline.__main__ import main
from pipeline.config import EmbedConfig, PipelineConfig
from pipeline.embed import embedder_from_spec
from pipeline.progress import STAGES, ProgressFile
from pipeline.run import RunSummary, run_pipeline
from tests.fake_embedder import FakeEmbedder


def _lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_progress_file_writes_a_line_per_stage_and_a_done_line(tmp_path):
    """Each stage start is one JSON line with its step of all steps; the last says done."""
    tracker = ProgressFile(tmp_path / "p" / "progress.jsonl")
    tracker.n_papers = 10
    for stage in STAGES:
        tracker.begin(stage)
    summary = RunSummary("r1", tmp_path, 10, 2, 1, 3, 0, {}, {})
    tracker.done(summary)
    lines = _lines(tracker.path)
    assert [line["stage"] for line in lines] == ["ingest", *STAGES, "done"]
    assert [line["step"] for line in lines[:-1]] == list(range(1, len(STAGES) + 2))
    assert {line["n_steps"] for line in lines} == {len(STAGES) + 1}
    assert lines[-1] | {"run_id": "r1", "n_rejected": 2, "n_warnings": 1} == lines[-1]


def test_progress_counts_papers_embedded_and_estimates_time_left(tmp_path):
    """Embedded papers are counted (lines at most every REFRESH_S, and at the end) and a time
    left appears once there is an embedding rate; none before it."""
    tracker = ProgressFile(tmp_path / "progress.jsonl")
    tracker.n_papers = 100
    assert tracker.eta() is None
    tracker.begin("embed")
    for _ in range(10):
        tracker.embedded(10)
    lines = _lines(tracker.path)
    assert lines[-1]["n_embedded"] == 100
    assert len(lines) < 2 + 10  # throttled: not a line per batch
    assert lines[-1]["eta_s"] is not None and lines[-1]["eta_s"] > 0
    tracker.failed("out of memory")
    last = _lines(tracker.path)[-1]
    assert (last["stage"], last["error"]) == ("failed", "out of memory")


def test_failed_run_writes_its_reason_to_the_progress_file(tmp_path):
    """A run that stops on a user error ends its progress file with a failed line naming it."""
    progress = tmp_path / "progress.jsonl"
    config = PipelineConfig(embed=EmbedConfig(cache_dir=str(tmp_path / "cache")))
    with pytest.raises(Exception, match="nope.txt"):
        run_pipeline([tmp_path / "nope.txt"], config, tmp_path / "runs", progress_file=progress)
    last = _lines(progress)[-1]
    assert last["stage"] == "failed" and "nope.txt" in last["error"]


def test_embedder_from_spec_names_a_factory():
    """module:factory gives that embedder; a malformed or unknown spec says what is wrong."""
    embedder = embedder_from_spec("tests.fake_embedder:FakeEmbedder")
    assert isinstance(embedder, FakeEmbedder)
    assert embedder.model_id == FakeEmbedder().model_id
    for spec, words in (
        ("no-colon", "module:factory"),
        ("tests.fake_embedder:Nothing", "cannot be loaded"),
        ("tests.fake_embedder:planted_corpus", "no model_id"),
    ):
        with pytest.raises(ValueError, match=words):
            embedder_from_spec(spec)


def test_cli_refuses_an_unknown_embedder_in_one_line(tmp_path, capsys):
    """`pipeline run --embedder` with a bad spec exits 2 with one line, before any work."""
    code = main(["run", str(tmp_path), "--embedder", "nowhere:Thing", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "nowhere:Thing" in err
