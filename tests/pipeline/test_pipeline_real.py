"""The real bundled model on the 75-paper sample, through the command line (marked real_model)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline import contract
from pipeline.__main__ import main
from tests.conftest import FIXTURES, ROOT
from tests.pipeline.test_labels import assert_labels_occur


@pytest.mark.real_model
def test_sample_run_with_real_model(tmp_path, capsys):
    """`python -m pipeline run` on the sample gives a valid run whose themes agree with the
    hand-labelled gold file (tests/fixtures/sample_theme_gold.csv) on >= 75% of papers, and
    whose cluster labels are noun phrases found in enough of each cluster's papers."""
    runs = tmp_path / "runs"
    code = main(
        [
            "run",
            str(ROOT / "data/sample/papers_page_pretraining.txt"),
            "--themes",
            str(ROOT / "data/themes.toml"),
            "--out",
            str(runs),
            "--no-progress",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "papers      75" in out and "clusters" in out
    run = contract.read_run(runs)
    assert len(run.papers) == 75 and run.papers["arxiv_id"].notna().all()
    assert run.manifest.embedding_model == "sentence-transformers/all-MiniLM-L6-v2"
    assert 3 <= run.manifest.counts.n_clusters <= 20
    assert (run.assignments["cluster_id"] == -1).mean() < 0.3
    assert run.clusters["label"].str.len().gt(0).all()
    texts = (run.papers["title"] + ". " + run.papers["abstract"]).tolist()
    real = run.clusters[run.clusters["cluster_id"] >= 0]
    labels = dict(zip(real["cluster_id"], real["label"], strict=True))
    assert_labels_occur(labels, texts, run.assignments["cluster_id"].tolist())
    from bertopic import BERTopic

    model = BERTopic.load(str(run.path / "model"))  # reloadable, as in a notebook
    assert set(model.get_topic_info()["Topic"]) == set(run.clusters["cluster_id"])

    gold = pd.read_csv(FIXTURES / "sample_theme_gold.csv", dtype=str).fillna("")
    predicted = dict(zip(run.papers["arxiv_id"], run.assignments["theme_id"], strict=True))
    got = np.array([predicted[a] for a in gold["arxiv_id"]])
    strict = np.mean(got == gold["theme_id"].to_numpy())
    lenient = np.mean(
        (got == gold["theme_id"].to_numpy()) | (got == gold["also_acceptable"].to_numpy())
    )
    assert strict >= 0.75, strict
    assert lenient >= 0.85, lenient
