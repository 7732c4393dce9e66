"""The embedding-settings benchmark's rules: setting names and the issue's quality margins."""

from __future__ import annotations

import pytest

from bench.bench_embed import MAX_F1_DROP, MAX_NMI_DROP, format_results, parse_setting, verdict


def _result(setting: str, nmi: float, f1: float | None, per_s: float = 10.0) -> dict:
    out = {
        "setting": setting,
        "per_s": per_s,
        "load_s": 1.0,
        "nmi": nmi,
        "seed_ari": 0.8,
        "slice": {"seed42": {"n_clusters": 40}},
    }
    if f1 is not None:
        out |= {"theme_f1_eval": f1, "theme_f1_tune": f1}
    return out


def test_setting_names_parse_and_bad_ones_stop():
    """'bundled-128' is the bundled model at 128 tokens; an unknown model stops the bench."""
    assert parse_setting("bundled-128") == ("bundled", 128)
    assert parse_setting("fast-256") == ("fast", 256)
    with pytest.raises(SystemExit):
        parse_setting("onnx-256")


def test_verdict_applies_the_issue_margins():
    """A setting ships only with NMI within 0.03 and theme macro F1 within 0.05 of MiniLM-256."""
    reference = _result("bundled-256", 0.50, 0.60)
    assert MAX_NMI_DROP == 0.03 and MAX_F1_DROP == 0.05
    assert verdict(_result("x", 0.48, 0.56), reference) == "within margins"
    assert verdict(_result("x", 0.46, 0.60), reference) == "outside margins"
    assert verdict(_result("x", 0.50, 0.54), reference) == "outside margins"
    assert verdict(_result("x", 0.50, None), reference).startswith("NMI within")


def test_table_shows_ratios_and_differences_against_the_reference():
    """The table has one row per setting with the speed ratio and quality differences."""
    table = format_results(
        [_result("bundled-256", 0.50, 0.60, 10.0), _result("fast-256", 0.40, 0.50, 1000.0)]
    )
    fast = next(line for line in table.splitlines() if line.strip().startswith("fast-256"))
    assert "100.00" in fast and "-0.100" in fast and "outside margins" in fast
