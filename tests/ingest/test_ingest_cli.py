"""`python -m pipeline ingest`: the summary table, the written Parquet files, column mapping
from the command line and config, and user errors as one line without a traceback."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline.__main__ import main
from pipeline.contract import arrow_schema
from tests.conftest import ROOT

FX = Path(__file__).parent / "fixtures"
SAMPLE_DIR = ROOT / "data" / "sample"
MAPPED = FX / "mapping" / "custom_columns.csv"
MAPPING_FLAGS = ["--column", "title=paper_name", "--column", "abstract=summary_text"]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", "ingest", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_prints_summary_and_writes_contract_tables(tmp_path, capsys):
    """The command prints one summary row per file and writes papers/rejections/merges Parquet
    files whose schemas are the contract's."""
    code = main(["ingest", str(SAMPLE_DIR), str(FX / "table.csv"), "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.strip()}
    assert rows[str(SAMPLE_DIR / "papers_page_pretraining.txt")][:3] == ["listing", "75", "75"]
    assert str(FX / "table.csv") in rows and "total" in rows
    papers = pq.read_table(tmp_path / "papers.parquet")
    rejections = pq.read_table(tmp_path / "rejections.parquet")
    assert papers.schema.equals(arrow_schema("papers"), check_metadata=False)
    assert rejections.schema.equals(arrow_schema("rejections"), check_metadata=False)
    read, kept, merged, rejected, warnings = map(int, rows["total"])
    assert papers.num_rows == kept and kept > 75
    assert rejections.num_rows == rejected + warnings and rejected >= 2
    assert pq.read_table(tmp_path / "merges.parquet").num_rows == 0


def test_cli_column_mapping_from_flags_and_config(tmp_path, capsys):
    """--column FIELD=COLUMN and [ingest] columns in a config file both map table columns."""
    out = tmp_path / "out"
    flags = ["--column", "title=paper_name", "--column", "abstract=summary_text"]
    assert main(["ingest", str(MAPPED), *flags, "--out", str(out)]) == 0
    config = tmp_path / "config.toml"
    config.write_text('[ingest]\ncolumns = {title = "paper_name", abstract = "summary_text"}\n')
    assert main(["ingest", str(MAPPED), "--config", str(config), "--out", str(out)]) == 0
    assert pq.read_table(out / "papers.parquet").column("title").to_pylist() == [
        "Mapped Columns Work"
    ]
    capsys.readouterr()


@pytest.mark.parametrize(
    "args, message",
    [
        (["no/such/file.csv"], "no input file found"),
        ([str(FX / "bad" / "empty.csv"), str(FX / "bad" / "note.txt")], "no usable paper"),
        ([str(MAPPED), "--column", "abstract"], "--column expects FIELD=COLUMN"),
        ([str(MAPPED), "--column", "summary=x"], "unknown field"),
    ],
)
def test_cli_user_error_is_one_line_without_traceback(args, message, tmp_path):
    """User errors exit 2 with exactly one line on stderr and no traceback."""
    result = _cli(*args, "--out", str(tmp_path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.stderr
    assert not (tmp_path / "papers.parquet").exists()


def test_cli_no_usable_paper_line_keeps_the_whole_reason(tmp_path, capsys):
    """The one-line 'no usable paper' error quotes the most common reason whole, hint included."""
    table = tmp_path / "no_abstract.csv"
    table.write_text("title,year\nA paper,2024\n", encoding="utf-8")
    code = main(["ingest", str(table), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert "(columns: title, year)" in err and "--column abstract=COLUMN" in err


def _read_only_dir(tmp_path: Path) -> Path:
    """A folder the process cannot create files in: a chmod 555 folder, or /sys for root (whom
    permissions do not stop)."""
    if os.geteuid() == 0:
        return Path("/sys/rte-ingest-out")
    folder = tmp_path / "read_only"
    folder.mkdir()
    folder.chmod(0o555)
    return folder / "out"


@pytest.mark.parametrize("where", ["a file", "under a file", "read-only"])
def test_cli_unwritable_out_fails_before_reading_input(where, tmp_path, capsys, monkeypatch):
    """An --out that cannot be written is one line and exit 2, found before any input is read."""
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    out = {
        "a file": blocker,
        "under a file": blocker / "out",
        "read-only": _read_only_dir(tmp_path),
    }[where]

    def must_not_read(*args, **kwargs):
        raise AssertionError("input read before --out was checked")

    monkeypatch.setattr("pipeline.ingest.ingest", must_not_read)
    code = main(["ingest", str(SAMPLE_DIR), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"cannot write to output folder {out}" in err


def test_cli_full_disk_is_one_line(tmp_path, capsys, monkeypatch):
    """A disk that fills up while the outputs are written is one line and exit 2."""
    import pyarrow.parquet

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(pyarrow.parquet, "write_table", full)
    code = main(["ingest", str(MAPPED), *MAPPING_FLAGS, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "No space left on device" in err
    assert not list((tmp_path / "out").glob(".*.parquet"))  # no temporary file left behind


def test_cli_no_usable_paper_writes_rejections_and_removes_stale_outputs(tmp_path, capsys):
    """When nothing usable remains, rejections.parquet is still written and the papers and
    merges of an earlier ingest into the same folder are removed, never left to mislead."""
    out = tmp_path / "out"
    assert main(["ingest", str(MAPPED), *MAPPING_FLAGS, "--out", str(out)]) == 0
    assert (out / "papers.parquet").exists() and (out / "merges.parquet").exists()
    code = main(["ingest", str(FX / "bad" / "empty.csv"), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"rejections -> {out / 'rejections.parquet'}" in err
    assert not (out / "papers.parquet").exists() and not (out / "merges.parquet").exists()
    rejections = pq.read_table(out / "rejections.parquet").to_pylist()
    assert [(r["source_location"], r["reason"]) for r in rejections] == [("file", "empty file")]


def test_cli_output_into_a_closed_pipe_ends_quietly(tmp_path):
    """`python -m pipeline ingest ... | head` ends without a BrokenPipeError traceback, and the
    output files are still written."""
    out = tmp_path / "out"
    command = [sys.executable, "-m", "pipeline", "ingest", str(SAMPLE_DIR), "--out", str(out)]
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    process.stdout.close()  # the reader has gone before the first line is printed
    err = process.stderr.read()
    assert process.wait(timeout=120) == 0
    assert "Traceback" not in err and "BrokenPipe" not in err and err == ""
    assert pq.read_table(out / "papers.parquet").num_rows == 75
