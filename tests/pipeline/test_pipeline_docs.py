"""The README documents every run-folder file and column, every manifest field and every config
field, with the contract's own words (datasette's documentation-test habit)."""

from __future__ import annotations

import dataclasses
import html
import re

import pyarrow as pa

from pipeline import contract
from pipeline.config import PipelineConfig
from tests.conftest import ROOT


def _section(name: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"<!-- section: {name} -->(.*?)<!-- /section: {name} -->", text, re.S)
    assert match, f"README has no section {name}"
    return match.group(1)


def _type_name(column: contract.Column) -> str:
    arrow = column.type
    if pa.types.is_list(arrow):
        name = f"list of {_type_name(dataclasses.replace(column, type=arrow.value_type))}"
    else:
        name = {"date32[day]": "date", "double": "float64"}.get(str(arrow), str(arrow))
    return name + (" (nullable)" if column.nullable and not pa.types.is_list(arrow) else "")


def readme_rows(table: str) -> list[str]:
    """The README rows of one table, as the contract defines them."""
    return [
        f"| `{c.name}` | {_type_name(c)} | {html.escape(c.doc, quote=False)} |"
        for c in contract.TABLES[table]
    ]


def test_readme_table_rows_match_the_contract():
    """Each contract table has a README table whose rows name, type and explain every column in
    the contract's own words (a changed meaning must be changed in both places)."""
    section = _section("pipeline")
    for table in contract.TABLES:
        assert f"**`{table}.parquet`**" in section, table
        for row in readme_rows(table):
            assert row in section, f"{table}: README lacks the row\n{row}"
    for name in (contract.EMBEDDINGS, contract.MODEL_DIR + "/", contract.MANIFEST, contract.LATEST):
        assert name in section, name


def test_readme_manifest_rows_match_the_contract():
    """Every manifest field (and its nested records) has a README row with the field's doc."""
    section = _section("pipeline")
    for record in (contract.Manifest, contract.InputFile, contract.Counts, contract.Addition):
        for f in dataclasses.fields(record):
            row = f"| `{f.name}` | {html.escape(f.metadata['doc'], quote=False)} |"
            assert row in section, f"{record.__name__}: README lacks the row\n{row}"


def test_readme_documents_every_config_field():
    """Every field of every config section appears as `key =` in the pipeline section."""
    section = _section("pipeline")
    config = PipelineConfig()
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if not dataclasses.is_dataclass(value):
            assert re.search(rf"^{field.name} = ", section, re.M), field.name
            continue
        assert f"[{field.name}]" in section, field.name
        for sub in dataclasses.fields(value):
            # [ingest] keys are detailed in the ingest section; here they are listed by name.
            pattern = rf"\b{sub.name}\b" if field.name == "ingest" else rf"^{sub.name} = "
            assert re.search(pattern, section, re.M), f"{field.name}.{sub.name}"
