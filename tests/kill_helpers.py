"""Interrupting a pipeline process on purpose: run a Python script in a child process and SIGKILL
it once it has created a marker file (the scripts stall right after creating it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

# Prepended to a kill script: after `contract.pq.write_table` has written one table of the new
# run, create MARKER and stall, so the kill lands while the run's folder is half written.
STALL_WHILE_WRITING = """
import sys, time
sys.path.insert(0, {root!r})
from pipeline import contract

write_table = contract.pq.write_table
def stalled_write(*args, **kwargs):
    write_table(*args, **kwargs)
    open({marker!r}, "w").close()  # some tables are written: kill me now
    time.sleep(120)
contract.pq.write_table = stalled_write
"""


def kill_when_marked(script: str, marker: Path, what: str, timeout_s: float = 900) -> None:
    """Run `script` (python -c) and SIGKILL it as soon as `marker` exists; the test fails when the
    script ends first or never creates the marker within `timeout_s` (a hang, not a timing)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + timeout_s
        while not marker.exists():
            if proc.poll() is not None:
                pytest.fail(
                    f"{what} ended before it was killed: {proc.stderr.read().decode()[-2000:]}"
                )
            if time.monotonic() > deadline:
                pytest.fail(f"{what} never reached the write stage")
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
