"""Hostile input, one generated file per case: `python -m pipeline ingest` exits 0 with nothing on
stderr, reports the bad record at its location with its reason, and keeps every good record in
the same file and in a companion file read with it."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline.__main__ import main
from tests.hostile.generate import ABSTRACT, CASES, Case, write_cases

BY_NAME = {case.name: case for case in CASES}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    """Every case written once into a temporary folder (the repository holds only the script)."""
    return write_cases(tmp_path_factory.mktemp("hostile"))


def _companion(folder: Path) -> Path:
    path = folder / "companion.csv"
    path.write_text(f"title,abstract\nCompanion Paper,{ABSTRACT}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_hostile_case_is_reported_where_it_is(name, corpus, tmp_path, capsys):
    """The case's bad record is a rejection (or warning) at its location with its reason, the
    command exits 0 with an empty stderr, and every good record beside it is kept."""
    case: Case = BY_NAME[name]
    out = tmp_path / "out"
    code = main(["ingest", str(corpus[name]), str(_companion(tmp_path)), "--out", str(out)])
    err = capsys.readouterr().err
    assert (code, err) == (0, "")
    rejections = pq.read_table(out / "rejections.parquet").to_pylist()
    mine = [r for r in rejections if Path(r["source_file"]).name == case.file]
    hits = [
        r
        for r in mine
        if r["source_location"] == case.location
        and case.reason in r["reason"]
        and r["severity"] == case.severity
    ]
    assert hits, mine
    titles = set(pq.read_table(out / "papers.parquet").column("title").to_pylist())
    assert {*case.good, "Companion Paper"} <= titles


def test_generator_writes_one_file_per_case(tmp_path):
    """The generator script writes exactly one small file per case, each in its own folder."""
    paths = write_cases(tmp_path)
    assert sorted(paths) == sorted(BY_NAME)
    assert all(p.is_file() and p.stat().st_size < 64 * 1024 for p in paths.values())
    assert len({p.parent for p in paths.values()}) == len(paths)
