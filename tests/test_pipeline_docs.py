"""The README documents every run-folder file and column, every manifest key and every config
field (datasette's documentation-test habit)."""

from __future__ import annotations

import dataclasses
import re

from pipeline import contract
from pipeline.config import PipelineConfig
from tests.conftest import ROOT


def _section(name: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"<!-- section: {name} -->(.*?)<!-- /section: {name} -->", text, re.S)
    assert match, f"README has no section {name}"
    return match.group(1)


def test_readme_documents_every_table_column_and_manifest_key():
    """Each contract table, its columns and each manifest key appear in the pipeline section."""
    section = _section("pipeline")
    for table, columns in contract.TABLES.items():
        assert f"`{table}.parquet`" in section, table
        for column in columns:
            assert f"`{column.name}`" in section, f"{table}.{column.name}"
    for key in contract.MANIFEST_KEYS:
        assert f"`{key}`" in section, key
    for name in (contract.EMBEDDINGS, contract.MODEL_DIR + "/", contract.MANIFEST, contract.LATEST):
        assert name in section, name


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
