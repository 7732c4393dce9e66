"""Runs started from the browser (no Streamlit): uploads saved under data/uploads/<timestamp>/,
`python -m pipeline run` started as a background process, and what it is doing, read back from
files so any session (or a restarted server) finds it again.

One run at a time: `<runs folder>/.new-run.lock` holds the job (JSON: pid, folder, inputs);
the lock is held while that process lives, and a start replaces it only once the process has
ended (checked under an flock, so two sessions cannot both start). The job's folder
`<runs folder>/.jobs/<job id>/` holds progress.jsonl (the pipeline's --progress-file),
stdout.log, stderr.log (the one-line reason of a failure) and exit_code (written when the
process ends, by a thread of the server that started it).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UPLOADS_ENV = "RTE_UPLOADS_DIR"  # where uploads go; default data/uploads in the repository
MAX_UPLOAD_MB = 200  # uploads of one run, in all (larger: name a folder on the server)
LOCK = ".new-run.lock"
JOBS = ".jobs"
RUNNING, DONE, FAILED = "running", "done", "failed"


class JobRunning(Exception):
    """A run started from the browser is still in progress."""


@dataclass(frozen=True)
class Job:
    """A pipeline run started from the browser."""

    job_id: str
    pid: int
    folder: Path  # progress.jsonl, stdout.log, stderr.log, exit_code
    inputs: tuple[str, ...]
    themes_file: str | None
    started_at: str  # UTC ISO time

    @property
    def progress_path(self) -> Path:
        return self.folder / "progress.jsonl"


@dataclass(frozen=True)
class JobStatus:
    """Where a job stands: RUNNING, DONE or FAILED, its last progress line, the new run's id
    (DONE) or the one-line reason (FAILED)."""

    job: Job
    state: str
    progress: dict
    run_id: str | None = None
    reason: str = ""

    @property
    def is_running(self) -> bool:
        return self.state == RUNNING


def uploads_dir() -> Path:
    """The uploads folder: $RTE_UPLOADS_DIR, else data/uploads in the repository."""
    configured = os.environ.get(UPLOADS_ENV)
    return Path(configured).expanduser() if configured else ROOT / "data" / "uploads"


def now_id() -> str:
    """A sortable timestamp for folder names: YYYYMMDD-HHMMSS-ffffff (UTC)."""
    return dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S-%f")


def safe_name(name: str) -> str:
    """The last part of an uploaded file's name, with only letters, digits, '.', '-', '_'."""
    base = re.split(r"[\\/]", name)[-1]
    cleaned = re.sub(r"[^\w.\-]+", "_", base).lstrip(".")
    return cleaned or "upload"


def too_large(sizes: Sequence[int]) -> str:
    """A message when uploads of `sizes` bytes exceed MAX_UPLOAD_MB in all, else ""."""
    total = sum(sizes)
    if total <= MAX_UPLOAD_MB * 1024 * 1024:
        return ""
    return (
        f"These files hold {total / 1024 / 1024:,.0f} MB; uploads are limited to "
        f"{MAX_UPLOAD_MB} MB in all. Put larger exports in a folder on the server and name "
        "that folder instead."
    )


def new_upload_folder() -> Path:
    """A new, empty `<uploads>/<timestamp>/` folder for one run's uploads."""
    folder = uploads_dir() / now_id()
    folder.mkdir(parents=True)
    return folder


def save_files(files: Sequence[tuple[str, bytes]], folder: Path) -> list[Path]:
    """Write (name, bytes) files into `folder` (created); return their paths. Names are made
    safe; a repeated name gets a number (a listing and its .meta.csv keep their pairing)."""
    folder.mkdir(parents=True, exist_ok=True)
    saved = []
    for name, data in files:
        path = folder / safe_name(name)
        n = 1
        while path.exists():
            path = folder / f"{Path(safe_name(name)).stem}-{n}{path.suffix}"
            n += 1
        path.write_bytes(data)
        saved.append(path)
    return saved


def themes_files() -> list[Path]:
    """The themes files shipped in data/ (e.g. data/themes.toml), by name."""
    return sorted((ROOT / "data").glob("*.toml"))


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def progress_summary(progress: dict) -> tuple[float, str]:
    """(share done 0..1, one line: step, stage, papers embedded, time spent and left) for a
    progress bar, from the last line of a progress file."""
    if not progress:
        return 0.0, "Starting (loading the pipeline)…"
    stage = str(progress.get("stage", ""))
    step, n_steps = int(progress.get("step", 1)), max(int(progress.get("n_steps", 1)), 1)
    n_papers, n_embedded = int(progress.get("n_papers", 0)), int(progress.get("n_embedded", 0))
    within = n_embedded / n_papers if stage == "embed" and n_papers else 0.0
    share = min(1.0, max(0.0, (step - 1 + within) / n_steps))
    eta = progress.get("eta_s")
    left = f"about {_duration(eta)} left" if eta is not None else "time left not known yet"
    papers = f"{n_embedded:,} of {n_papers:,} papers embedded" if n_papers else "reading inputs"
    spent = _duration(float(progress.get("elapsed_s", 0)))
    return share, f"Step {step} of {n_steps}: {stage} · {papers} · {spent} so far · {left}"


def _read_lock(runs_dir: Path) -> Job | None:
    try:
        raw = json.loads((runs_dir / LOCK).read_text(encoding="utf-8"))
        return Job(
            job_id=str(raw["job_id"]),
            pid=int(raw["pid"]),
            folder=Path(raw["folder"]),
            inputs=tuple(raw["inputs"]),
            themes_file=raw.get("themes_file"),
            started_at=str(raw["started_at"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _is_alive(pid: int) -> bool:
    """Is `pid` a live pipeline process (not a zombie, not a reused pid)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path(f"/proc/{pid}")
    if proc.is_dir():
        try:
            if proc.joinpath("stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return False
            return b"pipeline" in proc.joinpath("cmdline").read_bytes()
        except OSError:
            return False
    return True


def last_progress(path: Path) -> dict:
    """The last complete JSON line of a progress file ({} when none yet)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    for line in reversed(lines):
        try:
            return json.loads(line)
        except ValueError:
            continue  # a line being written
    return {}


def failure_reason(stderr: Path) -> str:
    """The CLI's one-line reason from its stderr (the last `error: ...` line, else the last
    line), or a fallback when it said nothing."""
    try:
        lines = [ln.strip() for ln in stderr.read_text(errors="replace").splitlines()]
    except OSError:
        lines = []
    lines = [ln for ln in lines if ln]
    errors = [ln for ln in lines if ln.startswith("error:")]
    if errors:
        return errors[-1].removeprefix("error:").strip()
    return lines[-1] if lines else "the run stopped without saying why"


def status(runs_dir: Path) -> JobStatus | None:
    """The latest job started from the browser for `runs_dir` (running or ended), or None."""
    job = _read_lock(runs_dir)
    if job is None:
        return None
    progress = last_progress(job.progress_path)
    exit_file = job.folder / "exit_code"
    code = None
    if exit_file.is_file():
        try:
            code = int(exit_file.read_text().strip())
        except ValueError:
            code = -1
    if code is None and _is_alive(job.pid):
        return JobStatus(job, RUNNING, progress)
    if progress.get("stage") == "done" and code in (None, 0):
        return JobStatus(job, DONE, progress, run_id=progress.get("run_id"))
    reason = progress.get("error") or failure_reason(job.folder / "stderr.log")
    return JobStatus(job, FAILED, progress, reason=reason)


def _wait(proc: subprocess.Popen, folder: Path) -> None:
    """Reap the process when it ends and record its exit code."""
    code = proc.wait()
    (folder / "exit_code").write_text(str(code))


def start(
    inputs: Sequence[str | Path],
    runs_dir: Path,
    themes_file: str | Path | None = None,
    embedder: str | None = None,
) -> Job:
    """Start `python -m pipeline run` on `inputs` in the background (its own session: closing
    the browser or stopping the server leaves it running), writing into `runs_dir`. Raises
    JobRunning when a run started here is still in progress."""
    runs_dir.mkdir(parents=True, exist_ok=True)
    with open(runs_dir / f"{LOCK}.guard", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        current = status(runs_dir)
        if current is not None and current.is_running:
            raise JobRunning(
                f"a run started at {current.job.started_at[:19].replace('T', ' ')} UTC is still "
                "in progress; one run at a time"
            )
        job_id = now_id()
        folder = runs_dir / JOBS / job_id
        folder.mkdir(parents=True)
        command = [sys.executable, "-m", "pipeline", "run", *map(str, inputs)]
        command += ["--out", str(runs_dir), "--no-progress"]
        command += ["--progress-file", str(folder / "progress.jsonl")]
        command += ["--themes", str(themes_file)] if themes_file else []
        command += ["--embedder", embedder] if embedder else []
        with open(folder / "stdout.log", "wb") as out, open(folder / "stderr.log", "wb") as err:
            proc = subprocess.Popen(
                command,
                cwd=ROOT,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
            )
        job = Job(
            job_id=job_id,
            pid=proc.pid,
            folder=folder,
            inputs=tuple(map(str, inputs)),
            themes_file=str(themes_file) if themes_file else None,
            started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )
        record = {**job.__dict__, "folder": str(folder), "inputs": list(job.inputs)}
        tmp = runs_dir / f"{LOCK}.tmp"
        tmp.write_text(json.dumps(record), encoding="utf-8")
        tmp.replace(runs_dir / LOCK)
    threading.Thread(target=_wait, args=(proc, folder), name="pipeline-job", daemon=True).start()
    return job


def stdout_text(job: Job, limit: int = 20_000) -> str:
    """The end of the job's standard output (the pipeline's summary)."""
    try:
        return (job.folder / "stdout.log").read_text(errors="replace")[-limit:]
    except OSError:
        return ""
