"""Writes the hostile-input corpus: one small file per case, each holding good records beside
the bad one, so the repository keeps only this script. `python tests/hostile/generate.py DIR`
writes them to DIR; the tests call `write_cases(tmp_path)`.

Each `Case` says where the bad record must be reported and why (a substring of the reason),
whether it is dropped or kept with a warning, and which good titles must survive beside it.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ABSTRACT = (
    "We study a careful method on a small benchmark and report that it improves accuracy "
    "over a strong baseline while using fewer parameters and less training time overall."
)
DEEP = 3000  # json.loads raises RecursionError past ~1,000 levels


@dataclass(frozen=True)
class Case:
    """One hostile input file and what ingest must make of it."""

    name: str
    file: str  # file name written into the corpus folder
    content: Callable[[], bytes]
    location: str  # where the bad record is reported ("file" for the whole file)
    reason: str  # a substring of the reason
    severity: str = "rejected"  # "rejected" (dropped) or "warning" (kept)
    good: tuple[str, ...] = ("Good Paper One", "Good Paper Two")  # titles that must be kept


def _record(title: str, **extra) -> dict:
    return {"title": title, "abstract": ABSTRACT, "published": "2023-05-01", **extra}


def _deep(levels: int = DEEP) -> str:
    return "[" * levels + "]" * levels


def _lines(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def _good_lines() -> list[str]:
    return [json.dumps(_record("Good Paper One")), json.dumps(_record("Good Paper Two"))]


def _oai(title: str, arxiv_id: str) -> str:
    return json.dumps(
        {
            "id": arxiv_id,
            "title": title,
            "abstract": ABSTRACT,
            "authors": "A. Author",
            "versions": [{"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"}],
            "update_date": "2008-01-01",
        }
    )


def _hf(title: str, paper_id: str) -> str:
    paper = {"id": paper_id, "title": title, "summary": ABSTRACT, "publishedAt": "2024-05-01"}
    return json.dumps({"paper": paper, "publishedAt": "2024-05-02"})


def _parquet(columns: dict) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(pa.table(columns), sink)
    return sink.getvalue()


def _parquet_far_dates() -> bytes:
    import pyarrow as pa

    days = pa.array([19000, 3_000_000, 19001], pa.int32()).cast(pa.date32())  # 3e6 days: 10183
    return _parquet(
        {
            "title": ["Good Paper One", "Far Future Paper", "Good Paper Two"],
            "abstract": [ABSTRACT] * 3,
            "published": days,
        }
    )


def _parquet_wrong_types() -> bytes:
    import pyarrow as pa

    return _parquet(
        {
            "title": pa.array(
                ["Good Paper One", "Bytes Abstract", "Short Bytes", "Good Paper Two"]
            ),
            "abstract": pa.array([ABSTRACT.encode(), ABSTRACT.encode(), b"x", ABSTRACT.encode()]),
            "published": pa.array(
                [{"y": 2020}, {"y": 2021}, {"y": 2022}, {"y": 2023}],
                pa.struct([("y", pa.int64())]),
            ),
        }
    )


def _parquet_list_abstract() -> bytes:
    return _parquet(
        {
            "title": ["Good Paper One", "Listed Abstract", "Good Paper Two"],
            "abstract": [ABSTRACT.split(), ABSTRACT.split(), ABSTRACT.split()],
        }
    )


def _parquet_int_title() -> bytes:
    import pyarrow as pa

    return _parquet({"title": pa.array([1, 42], pa.int64()), "abstract": [ABSTRACT] * 2})


def _bib(month: str) -> bytes:
    entries = [
        f"@article{{good1,\n  title = {{Good Paper One}},\n  abstract = {{{ABSTRACT}}},\n"
        "  year = 2020,\n}\n",
        f"@article{{odd,\n  title = {{Odd Month Paper}},\n  abstract = {{{ABSTRACT}}},\n"
        f"  year = 2021,\n  month = {{{month}}},\n}}\n",
        f"@article{{good2,\n  title = {{Good Paper Two}},\n  abstract = {{{ABSTRACT}}},\n"
        "  year = 2022,\n}\n",
    ]
    return "\n".join(entries).encode()


def _csv(rows: list[str], newline: str = "\n") -> bytes:
    return newline.join(["title,abstract,published", *rows, ""]).encode()


GOOD_ROWS = [f"Good Paper One,{ABSTRACT},2023-01-01", f"Good Paper Two,{ABSTRACT},2023-02-01"]

CASES: list[Case] = [
    Case(
        "json-array-deep-record",
        "deep.json",
        lambda: (
            f"[{json.dumps(_record('Good Paper One'))}, {_deep()}, "
            f"{json.dumps(_record('Good Paper Two'))}]"
        ).encode(),
        "record 2",
        "nested deeper than",
    ),
    Case(
        "json-array-huge-int",
        "huge_int.json",
        lambda: (
            f'[{json.dumps(_record("Good Paper One"))}, {{"title": {"9" * 5000}}}, '
            f"{json.dumps(_record('Good Paper Two'))}]"
        ).encode(),
        "record 2",
        "4300 digits",
    ),
    Case(
        "jsonl-deep-line",
        "deep.jsonl",
        lambda: _lines(_good_lines()[0], _deep(), _good_lines()[1]),
        "line 2",
        "nested deeper than",
    ),
    Case(
        "jsonl-deep-first-line",
        "deep_first.jsonl",
        lambda: _lines(_deep(), *_good_lines()),
        "line 1",
        "nested deeper than",
    ),
    Case(
        "jsonl-huge-int",
        "huge_int.jsonl",
        lambda: _lines(_good_lines()[0], f'{{"title": {"1" * 5000}}}', _good_lines()[1]),
        "line 2",
        "4300 digits",
    ),
    Case(
        "jsonl-extra-value-deep-but-decodable",
        "nested.jsonl",
        lambda: _lines(
            _good_lines()[0],
            json.dumps(_record("Deep Extra", extra=json.loads(_deep(900)))),
            _good_lines()[1],
        ),
        "line 2",
        "extra field 'extra' nested deeper than 64 levels: dropped",
        "warning",
        ("Good Paper One", "Deep Extra", "Good Paper Two"),
    ),
    Case(
        "oai-deep-line",
        "snapshot.jsonl",
        lambda: _lines(
            _oai("Good Paper One", "0704.0001"), _deep(), _oai("Good Paper Two", "0704.0002")
        ),
        "line 2",
        "nested deeper than",
    ),
    Case(
        "oai-huge-int",
        "snapshot_int.jsonl",
        lambda: _lines(
            _oai("Good Paper One", "0704.0001"),
            f'{{"id": {"7" * 5000}, "abstract": "x", "versions": []}}',
            _oai("Good Paper Two", "0704.0002"),
        ),
        "line 2",
        "4300 digits",
    ),
    Case(
        "hf-daily-deep-entry",
        "daily.json",
        lambda: (
            f'[{_hf("Good Paper One", "2405.00001")}, {{"paper": {_deep()}}}, '
            f"{_hf('Good Paper Two', '2405.00002')}]".encode()
        ),
        "record 2",
        "nested deeper than",
    ),
    Case(
        "bibtex-superscript-month",
        "month.bib",
        lambda: _bib("²"),
        "line 7",
        "unparsable date",
        "warning",
        ("Good Paper One", "Odd Month Paper", "Good Paper Two"),
    ),
    Case(
        "parquet-date-past-9999",
        "far.parquet",
        _parquet_far_dates,
        "record 2",
        "unparsable date '10183-09-21'",
        "warning",
        ("Good Paper One", "Far Future Paper", "Good Paper Two"),
    ),
    Case(
        "parquet-binary-abstract",
        "binary_abstract.parquet",
        _parquet_wrong_types,
        "record 2",
        "abstract was bytes: decoded as UTF-8",
        "warning",
        ("Good Paper One", "Bytes Abstract", "Good Paper Two"),
    ),
    Case(
        "parquet-struct-date",
        "struct_date.parquet",
        _parquet_wrong_types,
        "record 1",
        "date is an object",
        "warning",
        ("Good Paper One", "Good Paper Two"),
    ),
    Case(
        "parquet-list-abstract",
        "list_abstract.parquet",
        _parquet_list_abstract,
        "record 2",
        "abstract was a list of 28 strings: joined with spaces",
        "warning",
        ("Good Paper One", "Listed Abstract", "Good Paper Two"),
    ),
    Case(
        "parquet-int-title",
        "int_title.parquet",
        _parquet_int_title,
        "record 2",
        "title is a number (42), not text",
        good=(),
    ),
    Case(
        "csv-nul-early",
        "nul.csv",
        lambda: _csv([GOOD_ROWS[0], f"Nul\x00 Title,{ABSTRACT},2023-03-01", GOOD_ROWS[1]]),
        "line 3",
        "title: NUL byte(s) removed",
        "warning",
        ("Good Paper One", "Nul Title", "Good Paper Two"),
    ),
    Case(
        "csv-nul-breaks-a-row",
        "nul_row.csv",
        lambda: _csv([GOOD_ROWS[0], "Broken\x00Row\x00", GOOD_ROWS[1]]),
        "line 3",
        "malformed CSV row: 1 fields",
    ),
    Case(
        "csv-cr-line-ends",
        "mac.csv",
        lambda: _csv([GOOD_ROWS[0], "Short,too short,2023-03-01", GOOD_ROWS[1]], "\r"),
        "line 3",
        "abstract too short",
    ),
    Case(
        "date-before-1900",
        "old.csv",
        lambda: _csv([GOOD_ROWS[0], f"Origin of Species,{ABSTRACT},1859-11-24", GOOD_ROWS[1]]),
        "line 3",
        "date 1859-11-24 is before 1900: kept",
        "warning",
        ("Good Paper One", "Origin of Species", "Good Paper Two"),
    ),
    Case(
        "date-far-future",
        "future.csv",
        lambda: _csv([GOOD_ROWS[0], f"Typo Year,{ABSTRACT},2924-01-01", GOOD_ROWS[1]]),
        "line 3",
        "date 2924-01-01 is more than a year in the future: kept",
        "warning",
        ("Good Paper One", "Typo Year", "Good Paper Two"),
    ),
    Case(
        "url-javascript",
        "links.csv",
        lambda: "\n".join(
            [
                "title,abstract,url",
                f"Good Paper One,{ABSTRACT},https://example.org/1",
                f'Script Link,{ABSTRACT},"javascript:alert(1)"',
                f"Good Paper Two,{ABSTRACT},https://example.org/2",
                "",
            ]
        ).encode(),
        "line 3",
        "url is not an http(s) link: kept in extra.non_http_url",
        "warning",
        ("Good Paper One", "Script Link", "Good Paper Two"),
    ),
    Case(
        "url-markdown-injection",
        "links_md.csv",
        lambda: "\n".join(
            [
                "title,abstract,url",
                f"Good Paper One,{ABSTRACT},https://example.org/1",
                f'Angle Link,{ABSTRACT},"http://x> [c](javascript:alert(1))"',
                f"Good Paper Two,{ABSTRACT},https://example.org/2",
                "",
            ]
        ).encode(),
        "line 3",
        "url is not an http(s) link",
        "warning",
        ("Good Paper One", "Angle Link", "Good Paper Two"),
    ),
    Case(
        "json-url-is-an-object",
        "object_url.json",
        lambda: json.dumps(
            [
                _record("Good Paper One"),
                _record("Object Link", url={"href": "https://example.org"}),
                _record("Good Paper Two"),
            ]
        ).encode(),
        "record 2",
        "url: column 'url' holds an object (keys: href); map a text field inside it",
        "warning",
        ("Good Paper One", "Object Link", "Good Paper Two"),
    ),
    Case(
        "json-title-is-a-number",
        "number_title.json",
        lambda: json.dumps(
            [
                _record("Good Paper One"),
                {"title": 1984, "abstract": ABSTRACT},
                _record("Good Paper Two"),
            ]
        ).encode(),
        "record 2",
        "title is a number (1984), not text",
    ),
    Case(
        "json-title-is-an-object",
        "object_title.json",
        lambda: json.dumps(
            [
                _record("Good Paper One"),
                {"title": {"en": "x"}, "abstract": ABSTRACT},
                _record("Good Paper Two"),
            ]
        ).encode(),
        "record 2",
        "title: column 'title' holds an object (keys: en)",
    ),
]


def write_cases(folder: Path, cases: list[Case] = CASES) -> dict[str, Path]:
    """Write every case's file into `folder` (one sub-folder per case, so names never clash);
    returns case name -> path."""
    paths = {}
    for case in cases:
        path = Path(folder) / case.name / case.file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(case.content())
        paths[case.name] = path
    return paths


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/hostile/generate.py OUT_DIR")
    for name, path in write_cases(Path(sys.argv[1])).items():
        print(f"{name}: {path}")
