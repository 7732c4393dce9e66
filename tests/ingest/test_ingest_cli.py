"""`python -m pipeline ingest`: the summary table, the written Parquet files, column mapping
from the command line and config, and user errors as one line without a traceback."""

from __future__ import annotations

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
