"""Runs started from the browser: the job helpers as data (dashboard/jobs.py), one run at a time,
and the New run page: a small upload runs to completion in the background (the real pipeline
with the fake embedder, through $RTE_EMBEDDER), a failing run shows the CLI's one-line reason."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import data_access, jobs, state
from tests.dashboard.apptest_helpers import APP
from tests.fake_embedder import planted_corpus

FAKE = "tests.fake_embedder:FakeEmbedder"
RUN_TIMEOUT_S = 600  # the background pipeline on a busy 2-core machine takes about a minute


def test_upload_names_are_made_safe(tmp_path):
    """Uploaded names lose any folder part and odd characters; a repeated name is numbered."""
    assert jobs.safe_name("../../etc/passwd") == "passwd"
    assert jobs.safe_name("C:\\exports\\my list (1).bib") == "my_list_1_.bib"
    assert jobs.safe_name(".hidden") == "hidden" and jobs.safe_name("..") == "upload"
    saved = jobs.save_files([("a.csv", b"1"), ("a.csv", b"2")], tmp_path / "up")
    assert [p.name for p in saved] == ["a.csv", "a-1.csv"]
    assert saved[1].read_bytes() == b"2"


def test_upload_limit_message():
    """Uploads over the limit get a message naming their size, the limit and the way out."""
    assert jobs.too_large([1024] * 3) == ""
    message = jobs.too_large([jobs.MAX_UPLOAD_MB * 1024 * 1024, 1])
    assert f"{jobs.MAX_UPLOAD_MB} MB" in message and "folder on the server" in message


def test_progress_summary_and_failure_reason(tmp_path):
    """A progress line becomes a bar share and one line of words; the failure reason is the
    CLI's last `error:` line, not the noise before it; a half-written line is skipped."""
    share, text = jobs.progress_summary(
        {"stage": "embed", "step": 2, "n_steps": 8, "n_papers": 200, "n_embedded": 100,
         "elapsed_s": 75, "eta_s": 130}
    )  # fmt: skip
    assert share == pytest.approx(1.5 / 8)
    assert text == (
        "Step 2 of 8: embed · 100 of 200 papers embedded · 1 min 15 s so far · about 2 min 10 s "
        "left"
    )
    assert jobs.progress_summary({})[0] == 0.0
    stderr = tmp_path / "stderr.log"
    stderr.write_text("Loading weights: 100%\nerror: no usable paper in x.txt\n")
    assert jobs.failure_reason(stderr) == "no usable paper in x.txt"
    progress = tmp_path / "progress.jsonl"
    progress.write_text('{"stage": "embed"}\n{"stage": "clu')
    assert jobs.last_progress(progress) == {"stage": "embed"}


def _sleeper() -> subprocess.Popen:
    """A live process whose command line names the pipeline (as a running job's does)."""
    return subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)", "pipeline", "run"],
        start_new_session=True,
    )


def _fake_job(runs: Path, pid: int, progress: dict | None = None) -> Path:
    folder = runs / jobs.JOBS / "job1"
    folder.mkdir(parents=True)
    if progress is not None:
        (folder / "progress.jsonl").write_text(json.dumps(progress) + "\n")
    record = {
        "job_id": "job1",
        "pid": pid,
        "folder": str(folder),
        "inputs": ["papers.csv"],
        "themes_file": None,
        "started_at": "2026-11-29T10:00:00+00:00",
    }
    (runs / jobs.LOCK).write_text(json.dumps(record))
    return folder


def test_one_run_at_a_time(tmp_path, monkeypatch):
    """While a started run's process lives, a second start is refused and the page (in any
    session) shows the running job's progress instead of the form; once it ends, the lock no
    longer holds."""
    proc = _sleeper()
    try:
        _fake_job(
            tmp_path,
            proc.pid,
            {"stage": "embed", "step": 2, "n_steps": 8, "n_papers": 50, "n_embedded": 20},
        )
        assert jobs.status(tmp_path).is_running
        with pytest.raises(jobs.JobRunning, match="in progress"):
            jobs.start([tmp_path / "x.csv"], tmp_path)
        monkeypatch.setenv("RTE_RUNS_DIR", str(tmp_path))
        at = AppTest.from_file(APP, default_timeout=60)
        at.switch_page("app_pages/new_run.py")
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert "A run is in progress" in [s.value for s in at.subheader]
        assert "20 of 50 papers embedded" in at.get("progress")[0].proto.text
        assert not _has_start(at)
    finally:
        proc.kill()
        proc.wait()
    assert jobs.status(tmp_path).state == jobs.FAILED  # ended without a done line


def _has_start(at: AppTest) -> bool:
    return any(b.key == state.NEW_RUN_START for b in at.button)


def _planted_upload(n_per_topic: int = 6) -> bytes:
    """A JSON Lines export of the planted corpus, plus one record too short to keep."""
    papers, _ = planted_corpus(n_per_topic=n_per_topic, seed=5, topics=["data", "rl", "robot"])
    rows = [
        {"id": p.paper_id.replace(":", "-"), "title": p.title, "abstract": p.abstract,
         "published": p.published}
        for p in papers
    ]  # fmt: skip
    rows.append({"id": "short-1", "title": "Too short", "abstract": "Three words only."})
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def _wait_for_outcome(at: AppTest) -> AppTest:
    """Rerun the page until the background job has ended (the progress panel is gone)."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        if "A run is in progress" not in [s.value for s in at.subheader]:
            return at
        time.sleep(2)
    pytest.fail(f"the background run did not end within {RUN_TIMEOUT_S} s")


@pytest.fixture
def new_run_env(tmp_path, monkeypatch):
    runs, uploads = tmp_path / "runs", tmp_path / "uploads"
    monkeypatch.setenv("RTE_RUNS_DIR", str(runs))
    monkeypatch.setenv(jobs.UPLOADS_ENV, str(uploads))
    monkeypatch.setenv(data_access.EMBEDDER_ENV, FAKE)
    return runs, uploads


def test_an_upload_runs_to_completion_and_opens(new_run_env):
    """With no run yet, the New run page takes an upload, saves it under the uploads folder,
    runs the pipeline in the background with its progress shown, then lists the rejected
    record and opens the new run."""
    runs, uploads = new_run_env
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("no run" in t.value.lower() for t in at.text)  # and the New run page below it
    at.file_uploader(key=state.NEW_RUN_FILES).set_value(
        ("planted.jsonl", _planted_upload(), "application/json")
    )
    at.run()
    at.button(key=state.NEW_RUN_START).click().run()
    assert not at.exception, [e.value for e in at.exception]
    saved = list(uploads.glob("*/papers/planted.jsonl"))
    assert len(saved) == 1 and saved[0].read_bytes() == _planted_upload()
    at = _wait_for_outcome(at)
    done = jobs.status(runs)
    assert done.state == jobs.DONE, done.reason
    at.switch_page("app_pages/new_run.py").run()  # as a browser, stay on the page shown
    assert any(done.run_id in s.value.replace("\\", "") for s in at.success)
    rejections = next(d.value for d in at.dataframe if "reason" in d.value.columns)
    assert (rejections["severity"] == "rejected").sum() == 1
    at.button(key=state.NEW_RUN_OPEN).click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.title] == ["Overview"]
    assert at.sidebar.selectbox[0].value == done.run_id
    assert at.metric[0].value == "18"


def test_a_failed_run_shows_its_reason(new_run_env, tmp_path):
    """A run that fails (a folder with no usable paper) shows the command line's one-line
    reason on the page, and the form is back."""
    folder = tmp_path / "empty-export"
    folder.mkdir()
    (folder / "notes.txt").write_text("Nothing here\n\nNot an abstract either.\n")
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.radio(key=state.NEW_RUN_SOURCE).set_value("folder").run()
    at.text_input(key=state.NEW_RUN_FOLDER).input(str(folder)).run()
    at.button(key=state.NEW_RUN_START).click().run()
    at = _wait_for_outcome(at)
    failed = jobs.status(new_run_env[0])
    assert failed.state == jobs.FAILED and failed.reason
    assert any(failed.reason in e.value.replace("\\", "") for e in at.error)
    assert "usable paper" in failed.reason
    assert _has_start(at)
