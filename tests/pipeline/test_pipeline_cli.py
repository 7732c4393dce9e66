"""The `run` and `runs` commands, user errors, the interrupted-run guarantee and the dashboard's
import boundary."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from pipeline import contract
from pipeline.__main__ import main
from pipeline.config import EmbedConfig, PipelineConfig
from pipeline.run import build_run
from tests.conftest import ROOT
from tests.fake_embedder import FakeEmbedder, planted_corpus
from tests.kill_helpers import STALL_WHILE_WRITING, kill_when_marked


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    return err


def test_run_on_missing_input_is_one_line_error(tmp_path, capsys):
    """A missing input exits 2 with one line, no traceback."""
    code = main(["run", str(tmp_path / "nope.txt"), "--out", str(tmp_path / "runs")])
    assert code == 2
    assert "nope.txt" in _one_line_error(capsys)


def test_run_with_broken_themes_file_names_the_line(tmp_path, capsys):
    """A themes file with an error stops the run before any work, naming its line."""
    themes = tmp_path / "themes.toml"
    themes.write_text('[[theme]]\nname = "a"\ndescription = "b"\n\n[[theme]]\nname = "c"\n')
    code = main(
        [
            "run",
            str(ROOT / "data/sample/papers_page_pretraining.txt"),
            "--themes",
            str(themes),
            "--out",
            str(tmp_path / "runs"),
        ]
    )
    assert code == 2
    assert "line 5" in _one_line_error(capsys)


def test_run_into_unwritable_output_is_one_line_error(tmp_path, capsys):
    """An output path that cannot be a folder (here: a file) exits 2 with one clear line."""
    blocker = tmp_path / "runs"
    blocker.write_text("not a folder")
    code = main(
        ["run", str(ROOT / "data/sample/papers_page_pretraining.txt"), "--out", str(blocker)]
    )
    assert code == 2
    assert "cannot write" in _one_line_error(capsys)


def test_bad_config_key_is_one_line_error(tmp_path, capsys):
    """An unknown key in a config section lists the allowed keys in one line."""
    config = tmp_path / "config.toml"
    config.write_text("[cluster]\nmin_cluster_sise = 5\n")
    code = main(
        [
            "run",
            str(ROOT / "data/sample/papers_page_pretraining.txt"),
            "--config",
            str(config),
            "--out",
            str(tmp_path / "runs"),
        ]
    )
    assert code == 2
    err = _one_line_error(capsys)
    assert "min_cluster_sise" in err and "min_cluster_size" in err


def test_runs_lists_runs_with_latest_marked(tmp_path, capsys):
    """`runs` lists every complete run with its counts and marks the latest one."""
    papers, _ = planted_corpus(n_per_topic=3, seed=2)
    config = PipelineConfig(embed=EmbedConfig(cache_dir=str(tmp_path / "cache")))
    first = build_run(papers[:5], [], config, tmp_path / "runs", embedder=FakeEmbedder())
    second = build_run(papers[:7], [], config, tmp_path / "runs", embedder=FakeEmbedder())
    assert main(["runs", "--out", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert first.run_id in out and f"* {second.run_id}" in out
    assert main(["runs", "--out", str(tmp_path / "empty")]) == 0
    assert "no runs" in capsys.readouterr().out


def test_dashboard_modules_import_without_heavy_packages():
    """pipeline.contract and pipeline.review import without torch, UMAP, BERTopic or HDBSCAN."""
    code = textwrap.dedent(
        """
        import sys
        import pipeline.contract, pipeline.review
        heavy = sorted(m for m in ("torch", "umap", "bertopic", "hdbscan", "sentence_transformers",
                                   "numba", "transformers") if m in sys.modules)
        print(",".join(heavy))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""


KILL_SCRIPT = (
    STALL_WHILE_WRITING
    + """
from pipeline.config import EmbedConfig, PipelineConfig
from pipeline.run import build_run
from tests.fake_embedder import FakeEmbedder, planted_corpus
papers, _ = planted_corpus(n_per_topic=6, seed=4)
config = PipelineConfig(embed=EmbedConfig(cache_dir={cache!r}))
build_run(papers, [], config, {runs!r}, embedder=FakeEmbedder())
"""
)


def test_killed_run_leaves_earlier_runs_and_latest_intact(tmp_path):
    """SIGKILL in the middle of writing a run leaves the previous run and `latest` untouched."""
    runs = tmp_path / "runs"
    papers, _ = planted_corpus(n_per_topic=3, seed=4)
    config = PipelineConfig(embed=EmbedConfig(cache_dir=str(tmp_path / "cache")))
    before = build_run(papers, [], config, runs, embedder=FakeEmbedder())
    marker = tmp_path / "writing"
    script = KILL_SCRIPT.format(
        root=str(ROOT), marker=str(marker), cache=str(tmp_path / "cache"), runs=str(runs)
    )
    kill_when_marked(script, marker, "run")
    assert any(p.name.startswith(".tmp-") for p in runs.iterdir())  # it really died mid-write
    assert contract.latest_run_id(runs) == before.run_id
    assert [e.run_id for e in contract.list_runs(runs)] == [before.run_id]
    run = contract.read_run(runs)
    assert run.run_id == before.run_id and len(run.assignments) == len(papers)


def test_stored_answers_none_without_a_store_and_one_line_with_a_damaged_one(tmp_path, capsys):
    """`run` and `add` read theme answers from the runs folder's review store: none when there
    is no store; a damaged store is one printed line and the command goes on without answers."""
    from pipeline.__main__ import _stored_answers
    from pipeline.review import default_store_path

    assert _stored_answers(str(tmp_path)) == ()
    assert capsys.readouterr().out == ""
    path = default_store_path(tmp_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not a database" * 100)
    assert _stored_answers(str(tmp_path)) == ()
    out = capsys.readouterr().out.strip()
    assert out.startswith("theme answers not used:") and len(out.splitlines()) == 1
