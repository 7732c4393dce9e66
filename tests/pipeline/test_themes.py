"""Themes file parsing (errors name their line, examples resolve or warn), the prior's evidence
rules, and the theme stage end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
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
)
from pipeline.themes.definitions import resolve_examples
from pipeline.themes.evidence import standardise, term_counts, theme_texts
from tests.conftest import ROOT

GOOD = """
# two themes
[[theme]]
name = "RL post-training"
description = "Reinforcement learning after pretraining."
key_terms = ["RLHF", "reward model"]
examples = ["arxiv:2401.00001", "2402.00002v3", "A Title Written Exactly"]
counter_examples = ["10.1000/XYZ"]

[[theme]]
id = "ctrl"
name = "control"
description = "Control policies for robots."
"""


def test_bundled_themes_file_has_the_four_sample_themes():
    """data/themes.toml names the four sample themes, each with key terms and examples."""
    themes = load_themes(ROOT / "data" / "themes.toml")
    assert [t.theme_id for t in themes] == [
        "pretraining-data",
        "continual-pretraining",
        "rl-post-training",
        "control",
    ]
    assert all(t.description and t.key_terms and t.examples for t in themes)


def test_parse_good_file_fills_defaults():
    """A theme without `id` gets the slug of its name; lists default to empty; lines known."""
    themes = parse_themes(GOOD)
    assert [t.theme_id for t in themes] == ["rl-post-training", "ctrl"]
    assert themes[0].key_terms == ("RLHF", "reward model") and themes[1].key_terms == ()
    assert themes[0].examples[2] == "A Title Written Exactly" and themes[1].examples == ()
    assert themes[0].line == 3 and themes[1].line == 10
    assert slugify("RL post-training!") == "rl-post-training"


@pytest.mark.parametrize(
    ("name", "slug"),
    [("Обучение", "obuchenie"), ("学习", "xuexi"), ("Théorie", "theorie")],
)
def test_names_in_any_script_get_a_working_slug(name, slug):
    """A theme name in another script is transliterated into its id."""
    assert slugify(name) == slug
    assert parse_themes(f'[[theme]]\nname = "{name}"\ndescription = "d"\n')[0].theme_id == slug


def test_a_name_without_letters_gets_a_hash_slug():
    """`!!!` has nothing to transliterate: its id is theme-<hash>, stable and valid."""
    theme = parse_themes('[[theme]]\nname = "!!!"\ndescription = "d"\n')[0]
    assert theme.theme_id == slugify("!!!") and theme.theme_id.startswith("theme-")
    assert len(theme.theme_id) == len("theme-") + 8


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
        ('[[theme]]\nname = "a"\ndescription = "b"\nexamples = [1]\n', 1, "examples"),
        ('[[theme]]\nid = "other"\nname = "a"\ndescription = "b"\n', 1, "reserved"),
        ('[[theme]]\nid = "Bad Id"\nname = "a"\ndescription = "b"\n', 1, "'Bad Id'"),
        ('[[theme]]\nname = "a"\ndescription = "b\n', 3, "invalid TOML"),
        ('[[theme]]\nname = "a"\ndescription = "b"\nkey_terms = ["x", " - "]\n', 1, "counter"),
    ],
)
def test_themes_file_errors_name_the_line(text, line, fragment):
    """Every themes-file mistake raises ThemesFileError naming its line and the problem."""
    with pytest.raises(ThemesFileError) as error:
        parse_themes(text, "themes.toml")
    message = str(error.value)
    assert f"line {line}" in message and fragment in message, message


def test_empty_missing_or_folder_themes_file(tmp_path):
    """No [[theme]] table, no file, or a folder: each is one clear error."""
    with pytest.raises(ThemesFileError, match="no themes"):
        parse_themes("# nothing here\n")
    with pytest.raises(ThemesFileError, match="not found"):
        load_themes(tmp_path / "missing.toml")
    with pytest.raises(ThemesFileError, match="folder"):
        load_themes(tmp_path)


def test_examples_resolve_by_id_version_doi_and_title_and_warn_otherwise():
    """Examples match arXiv ids (with or without prefix and version), DOIs (any case) and exact
    titles (any case or punctuation); a reference matching no paper is a warning naming the
    theme and its line; counter-examples become exclusions."""
    themes = parse_themes(GOOD, "my.toml")
    papers = pd.DataFrame(
        {
            "paper_id": ["arxiv:2401.00001", "arxiv:2402.00002", "title:abc", "doi:10.1000/xyz"],
            "title": ["One", "Two", "A title written exactly!", "Four"],
        }
    )
    labels, warnings = resolve_examples(themes, papers, "my.toml")
    found = {(lab.paper_id, lab.theme_ids, lab.excluded) for lab in labels}
    assert found == {
        ("arxiv:2401.00001", ("rl-post-training",), ()),
        ("arxiv:2402.00002", ("rl-post-training",), ()),
        ("title:abc", ("rl-post-training",), ()),
        ("doi:10.1000/xyz", (), ("rl-post-training",)),
    }
    assert warnings == []
    _, warnings = resolve_examples(themes, papers.iloc[:1], "my.toml")
    assert len(warnings) == 3
    assert all(w.startswith("my.toml, line 3: theme 'RL post-training'") for w in warnings)
    assert any("counter-example '10.1000/XYZ' matches no paper" in w for w in warnings)


def test_term_counts_match_variants_at_word_starts():
    """Key terms match across case, spaces, hyphens and joined prefixes, at a word start only
    ("robot" counts "robots", not "microrobot"); every term counts on its own."""
    theme = Theme("t", "continual pretraining", "d", ("continual pre-training", "robot"))
    texts = [
        "Continual Pre-Training of robots and a microrobot",
        "continual pretraining; continual   pre training",
    ]
    counts = term_counts(texts, [theme])
    assert counts[:, 0].tolist() == [2 + 1, 2 + 2]


def test_counter_terms_speak_against_their_theme():
    """A key term written "-phrase" is a counter term: it is not embedded or counted as the
    theme's evidence, and where it occurs (title or abstract) it lowers the theme's prior by the
    abstract weight per log occurrence, without opening a theme that has no evidence."""
    rng = np.random.default_rng(3)
    direction = rng.standard_normal(16)
    theme = parse_themes(
        '[[theme]]\nname = "pretraining data"\ndescription = "d"\n'
        'key_terms = ["data mixture", "-instruction tuning"]\n'
    )[0]
    assert theme.terms == ("data mixture",) and theme.counter_terms == ("instruction tuning",)
    assert theme_texts(theme) == ["pretraining data: d", "data mixture"]

    def encode(texts):
        return np.stack([direction for _ in texts])

    papers = np.vstack([direction, direction, rng.standard_normal((10, 16))])
    abstracts = ["a data mixture", "a data mixture for instruction-tuning"] + ["x"] * 10
    titles = ["t", "Instruction Tuning"] + ["t"] * 10
    result = assign_themes(
        papers,
        titles,
        abstracts,
        [f"p{i}" for i in range(12)],
        [theme],
        encode,
        ThemeConfig(),
    )
    drop = result.prior[0, 0] - result.prior[1, 0]
    assert drop == pytest.approx(ThemeConfig().abstract_weight * np.log1p(2), abs=1e-5)
    assert result.assignment.theme_ids[0] == "pretraining-data"
    assert result.assignment.theme_ids[1] == OTHER
    closed = term_counts(["instruction tuning"], [theme], counter=True)
    assert closed.tolist() == [[1.0]] and term_counts(["instruction tuning"], [theme])[0, 0] == 0


def test_standardise_centres_each_theme():
    """Scores become z-scores per theme; a constant column becomes zeros; one paper gives zeros."""
    z = standardise(np.array([[1.0, 5.0], [3.0, 5.0]]))
    assert np.allclose(z, [[-1.0, 0.0], [1.0, 0.0]])
    assert np.allclose(standardise(np.array([[0.3, 0.9]])), 0.0)


def _two_theme_world(rng, n_noise=5):
    directions = rng.standard_normal((2, 16))
    themes = [Theme("a", "alpha", "alpha"), Theme("b", "beta", "beta")]

    def encode(texts):
        return np.stack([directions[0] if "alpha" in t else directions[1] for t in texts])

    papers = np.vstack(
        [
            directions[0] + 0.05 * rng.standard_normal((5, 16)),
            directions[1] + 0.05 * rng.standard_normal((5, 16)),
            rng.standard_normal((n_noise, 16)),
        ]
    )
    return themes, encode, papers


def test_paper_below_min_score_stays_other():
    """Papers near a theme get it; unrelated papers stay "other", never forced into a theme; the
    probability of the theme given is higher where the evidence is stronger."""
    themes, encode, papers = _two_theme_world(np.random.default_rng(0))
    n = len(papers)
    result = assign_themes(
        papers,
        ["a study"] * n,
        ["nothing"] * n,
        [f"p{i}" for i in range(n)],
        themes,
        encode,
        ThemeConfig(min_score=1.0),
    )
    ids = result.assignment.theme_ids
    assert list(ids[:5]) == ["a"] * 5 and list(ids[5:10]) == ["b"] * 5
    assert (ids[10:] == OTHER).sum() >= 3
    assert result.prior.shape == (n, 3)
    assert np.allclose(result.assignment.probabilities.sum(axis=1), 1.0)


def test_theme_needs_evidence_of_its_own():
    """A paper that stands out for a theme only relative to the corpus (low raw similarity, no
    key term in its text) stays "other"; a key-term mention opens the theme again."""
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
    titles, abstracts = ["a study"] * 20, ["nothing here"] * 20
    config = ThemeConfig(min_score=2.0)
    ids = [f"p{i}" for i in range(20)]

    def theme_of_first():
        result = assign_themes(papers, titles, abstracts, ids, themes, encode, config)
        return result.assignment.theme_ids[0]

    assert theme_of_first() == OTHER
    abstracts[0] = "we train a reward model"
    assert theme_of_first() == "rl"


def test_examples_label_their_paper_and_missing_ones_warn():
    """An example gets its theme (with the label's probability), a counter-example loses it,
    and an example matching no paper is a warning of the stage, not an error."""
    themes, encode, papers = _two_theme_world(np.random.default_rng(2))
    themes = [
        Theme("a", "alpha", "alpha", examples=("p12", "arxiv:9999.99999"), line=4),
        Theme("b", "beta", "beta", counter_examples=("p5",)),
    ]
    n = len(papers)
    titles = [f"p{i}" for i in range(n)]
    result = assign_themes(
        papers,
        titles,
        ["x"] * n,
        [f"id{i}" for i in range(n)],
        themes,
        encode,
        ThemeConfig(min_score=1.0),
        themes_source="t.toml",
    )
    a = result.assignment
    assert a.theme_ids[12] == "a" and a.theme_probability[12] > 0.9
    assert a.theme_ids[5] != "b"
    assert a.n_used["example"] == 2
    assert result.warnings == (
        "t.toml, line 4: theme 'alpha': example 'arxiv:9999.99999' matches no paper",
    )
