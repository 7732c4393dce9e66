"""Group labels are 2-5 word noun phrases that occur in at least min(3, 10%) of their group's
papers, on the bundled sample and on the planted-topic corpus; generated themes are whole
clusters and stable across seeds."""

from __future__ import annotations

import re

import pandas as pd
from sklearn.metrics import adjusted_rand_score

from pipeline.config import PipelineConfig
from pipeline.ingest import ingest
from pipeline.labels import candidate_phrases, group_labels, min_support, phrase_key
from pipeline.themes.evidence import unit
from pipeline.themes.generated import generated_themes
from tests.conftest import FIXTURES, ROOT
from tests.fake_embedder import TOPICS, FakeEmbedder, planted_corpus


def _occurs(label: str, text: str) -> bool:
    """The label occurs in the text, ignoring case and hyphens (the issue's rule)."""
    return f" {phrase_key(label)} " in f" {phrase_key(re.sub(r'[^0-9A-Za-z-]+', ' ', text))} "


def assert_labels_occur(labels: dict, texts: list[str], groups: list) -> None:
    for group, label in labels.items():
        members = [t for t, g in zip(texts, groups, strict=True) if g == group]
        assert 2 <= len(phrase_key(label).split()) <= 5, (group, label)
        support = sum(_occurs(label, t) for t in members)
        assert support >= min_support(len(members)), (group, label, support, len(members))


def test_candidates_are_endings_of_content_word_runs():
    """Candidates end a run of content words: 'learning verifiable' (a run's middle) never is."""
    found = candidate_phrases("Learning verifiable rewards for large language models.")
    assert {"verifiable rewards", "language models", "large language models"} <= found
    assert "learning verifiable" not in found and "rewards large" not in found


def test_labels_on_the_sample_occur_in_their_groups():
    """On the 75 sample papers grouped by their gold theme, every label is a 2-5 word phrase
    found in at least min(3, 10%) of its group's papers."""
    papers = ingest([ROOT / "data/sample/papers_page_pretraining.txt"], PipelineConfig().ingest)
    gold = pd.read_csv(FIXTURES / "sample_theme_gold.csv", dtype=str)
    theme = dict(zip("arxiv:" + gold["arxiv_id"], gold["theme_id"], strict=True))
    names = sorted(set(theme.values()))
    texts = [f"{p.title}. {p.abstract}" for p in papers.papers]
    groups = [names.index(theme[p.paper_id]) for p in papers.papers]
    labels = group_labels(texts, groups, [p.title for p in papers.papers])
    assert set(labels) == set(range(len(names))) and all(labels.values())
    assert_labels_occur(labels, texts, groups)


def test_labels_on_the_planted_corpus_use_their_topic_words():
    """Planted topics get labels from their own vocabulary, found in enough of their papers."""
    papers, topics = planted_corpus(20, seed=3)
    names = list(TOPICS)
    groups = [names.index(t) for t in topics]
    texts = [f"{p.title}. {p.abstract}" for p in papers]
    labels = group_labels(texts, groups, [p.title for p in papers])
    assert_labels_occur(labels, texts, groups)
    for group, label in labels.items():
        assert set(phrase_key(label).split()) <= set(TOPICS[names[group]]), label


def test_generated_themes_follow_the_topics_and_are_stable_across_seeds():
    """Generated themes: each planted topic in one theme, named by a phrase, and the same
    grouping (ARI >= 0.9) with another seed."""
    papers, topics = planted_corpus(25, seed=1)
    vectors = unit(FakeEmbedder().encode([f"{p.title}. {p.abstract}" for p in papers]))
    texts = [f"{p.title}. {p.abstract}" for p in papers]
    titles = [p.title for p in papers]
    themes, ids = generated_themes(vectors, texts, titles, 5, seed=42)
    _, again = generated_themes(vectors, texts, titles, 5, seed=7)
    assert adjusted_rand_score(ids, again) >= 0.9
    assert adjusted_rand_score(topics, ids) >= 0.9
    assert all(2 <= len(phrase_key(t.name).split()) <= 5 for t in themes)
    assert len({t.theme_id for t in themes}) == len(themes)


def test_sample_fixture_is_present():
    """The gold file the label test uses is in the repository."""
    assert (FIXTURES / "sample_theme_gold.csv").is_file()


def test_two_groups_about_the_same_task_get_different_labels():
    """Two clusters whose best phrase is the same ('pose estimation' on the 75k map twice): the
    one that owns it more keeps it, the other is named by its own next best phrase."""
    hands = [f"Pose estimation {i}" for i in range(3)] + [
        f"Pose estimation {i}: hand tracking" for i in range(3)
    ]
    crowds = [f"Pose estimation {i}" for i in range(2)] + [
        f"Pose estimation {i}: motion capture" for i in range(3)
    ]
    speech = [f"Speech recognition {i}: noise number {i}" for i in range(100)]
    texts = hands + crowds + speech
    groups = [0] * len(hands) + [1] * len(crowds) + [2] * len(speech)
    labels = group_labels(texts, groups)
    assert labels[0].lower() == "pose estimation", labels
    assert labels[1].lower() == "motion capture", labels
