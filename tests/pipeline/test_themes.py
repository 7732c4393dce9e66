"""Themes file parsing (errors name their line) and the theme scoring rules."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.config import ThemeConfig
from pipeline.contract import OTHER
from pipeline.themes import (
    Theme,
    ThemesFileError,
    assign_themes,
    load_themes,
    parse_themes,
    slugify,
    standardise,
    term_hits,
)
from tests.conftest import ROOT

GOOD = """
# two themes
[[theme]]
name = "RL post-training"
description = "Reinforcement learning after pretraining."
key_terms = ["RLHF", "reward model"]

[[theme]]
id = "ctrl"
name = "control"
description = "Control policies for robots."
"""


def test_bundled_themes_file_has_the_four_sample_themes():
    """data/themes.toml parses and names the four sample themes with descriptions and key terms."""
    themes = load_themes(ROOT / "data" / "themes.toml")
    assert [t.theme_id for t in themes] == [
        "pretraining-data",
        "continual-pretraining",
        "rl-post-training",
        "control",
    ]
    assert all(t.description and t.key_terms for t in themes)


def test_parse_good_file_fills_default_ids():
    """A theme without `id` gets the slug of its name; key terms default to none."""
    themes = parse_themes(GOOD)
    assert [t.theme_id for t in themes] == ["rl-post-training", "ctrl"]
    assert themes[0].key_terms == ("RLHF", "reward model") and themes[1].key_terms == ()
    assert slugify("RL post-training!") == "rl-post-training"


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ('[[theme]]\nname = "a"\ndescription = "b"\n\n[[theme]]\nname = "c"\n', 5, "description"),
        ('[[theme]]\nname = "a"\ndescription = "b"\ncolour = "red"\n', 1, "unknown key"),
        (
            '[[theme]]\nname = "a"\ndescription = "b"\n[[theme]]\nname = "A"\ndescription = "c"\n',
            4,
            "duplicate",
        ),
        ('[[theme]]\nname = "a"\ndescription = "b"\nkey_terms = "x"\n', 1, "key_terms"),
        ('[[theme]]\nid = "other"\nname = "a"\ndescription = "b"\n', 1, "reserved"),
        ('[[theme]]\nname = "a"\ndescription = "b\n', 3, "invalid TOML"),
    ],
)
def test_themes_file_errors_name_the_line(text, line, fragment):
    """Every themes-file mistake raises ThemesFileError naming its line and the problem."""
    with pytest.raises(ThemesFileError) as error:
        parse_themes(text, "themes.toml")
    message = str(error.value)
    assert f"line {line}" in message and fragment in message, message


def test_empty_or_missing_themes_file(tmp_path):
    """A file with no [[theme]] table, or no file at all, is a clear error."""
    with pytest.raises(ThemesFileError, match="no themes"):
        parse_themes("# nothing here\n")
    with pytest.raises(ThemesFileError, match="not found"):
        load_themes(tmp_path / "missing.toml")


def test_term_hits_match_hyphen_and_space_variants():
    """Key terms match across spaces and hyphens, titles count twice."""
    theme = Theme("cp", "continual pretraining", "d", ("continual pre-training",))
    hits = term_hits(
        ["Continual Pre-Training at scale"], ["we study continual pretraining"], [theme]
    )
    assert hits[0, 0] == pytest.approx(np.log1p(2 * 2 + 1 * 2))


def test_standardise_centres_each_theme():
    """Scores become z-scores per theme; a constant column becomes zeros; one paper gives zeros."""
    z = standardise(np.array([[1.0, 5.0], [3.0, 5.0]]))
    assert np.allclose(z, [[-1.0, 0.0], [1.0, 0.0]])
    assert np.allclose(standardise(np.array([[0.3, 0.9]])), 0.0)


def test_paper_below_min_score_stays_other():
    """A paper whose best theme score is under min_score is "other", never forced into a theme."""
    rng = np.random.default_rng(0)
    directions = rng.standard_normal((2, 16))
    themes = [Theme("a", "alpha", "alpha"), Theme("b", "beta", "beta")]

    def encode(texts):
        return np.stack([directions[0] if "alpha" in t else directions[1] for t in texts])

    papers = np.vstack(
        [
            directions[0] + 0.05 * rng.standard_normal((5, 16)),
            directions[1] + 0.05 * rng.standard_normal((5, 16)),
            rng.standard_normal((5, 16)),
        ]
    )
    result = assign_themes(
        papers, np.full(15, -1), themes, encode, ThemeConfig(lexical_weight=0.0, paper_weight=1.0)
    )
    assert list(result.theme_ids[:5]) == ["a"] * 5 and list(result.theme_ids[5:10]) == ["b"] * 5
    assert (result.theme_ids[10:] == OTHER).sum() >= 3
    assert (result.scores[:10] > result.scores[10:].max() - 1e-9).sum() >= 8


def test_theme_needs_evidence_of_its_own():
    """A paper that stands out for a theme only relative to the corpus (low raw similarity, no
    key term in its text) stays "other"; a key-term mention makes the theme eligible again."""
    rng = np.random.default_rng(1)
    direction = rng.standard_normal(32)
    direction /= np.linalg.norm(direction)
    themes = [Theme("rl", "reward learning", "reward learning", ("reward model",))]

    def encode(texts):
        return np.stack([direction for _ in texts])

    noise = rng.standard_normal((20, 32))
    noise -= np.outer(noise @ direction, direction)  # orthogonal to the theme
    papers = noise / np.linalg.norm(noise, axis=1, keepdims=True)
    papers[0] = 0.3 * direction + 0.95 * papers[0]  # raw similarity about 0.3: best of corpus
    titles = ["a study"] * 20
    abstracts = ["nothing here"] * 20
    config = ThemeConfig(lexical_weight=0.0, paper_weight=1.0, min_score=0.5)
    gated = assign_themes(
        papers, np.full(20, -1), themes, encode, config, titles=titles, abstracts=abstracts
    )
    assert gated.theme_ids[0] == OTHER and gated.scores[0] < config.min_score
    abstracts[0] = "we train a reward model"
    mentioned = assign_themes(
        papers, np.full(20, -1), themes, encode, config, titles=titles, abstracts=abstracts
    )
    assert mentioned.theme_ids[0] == "rl"
