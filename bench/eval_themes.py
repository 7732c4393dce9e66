"""Theme benchmark: reads a run of the HF daily-papers corpus, the labelled sets
bench/labels/hf_{tune,tune2,eval}.csv and a run of the bundled sample; prints per theme
precision, recall and F1 and macro F1 with 0, 25, 50 and 100 simulated triage answers, the
sample's F1, a reliability curve, and the time of a refit plus re-scoring.

The runs give papers, embeddings and clusters; the theme stage is run again on them with the
current code and data/themes.toml (`assign_themes`, as `pipeline run` does: a few seconds, the
embedder only encodes the themes' texts), so a change to the themes file or pipeline/themes needs
no new run. The bench says whether the result still equals the themes stored in the run.

Simulated triage: the real queue (`pipeline.themes.triage.triage_queue`) picks papers among the
labelled ones of a set, their answers are the labels' primary themes, the model refits with them
(`assign_from_prior`, as the dashboard does), and the score counts only the papers not answered.
Labels never enter the model's defaults: they are used here only as simulated answers.

Usage: .venv/bin/python bench/eval_themes.py [--runs DIR] [--answers 0,25,50,100] [--json FILE]
                                             [--splits tune,tune2,eval]
  (builds the HF and sample runs into DIR/hf and DIR/sample when absent, embedding cache warm
  or not; default DIR: bench/results/theme-runs)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bench.theme_labels import SPLITS, load_labels, score  # noqa: E402
from pipeline import contract  # noqa: E402
from pipeline.config import load_config, theme_config_of  # noqa: E402
from pipeline.embed import EmbeddingCache, embedder_of, encode_cached  # noqa: E402
from pipeline.themes import assign_themes, load_themes  # noqa: E402
from pipeline.themes.evidence import unit  # noqa: E402
from pipeline.themes.model import ThemeLabel, assign_from_prior  # noqa: E402
from pipeline.themes.triage import triage_queue  # noqa: E402

HF = ROOT.parent / "shared/corpora/hf_daily_papers_2024_2026/hf_daily_papers_2024_2026.parquet"
SAMPLE = ROOT / "data/sample/papers_page_pretraining.txt"
GOLD = ROOT / "tests/fixtures/sample_theme_gold.csv"
THEMES = ROOT / "data/themes.toml"
STEP = 5  # answers per refit, as a meeting answers a few papers between looks at the themes


def build(runs: Path, inputs: Path) -> contract.Run:
    """The latest run in `runs`, built with the shipped themes file when there is none."""
    if contract.latest_run_id(runs) is None:
        from pipeline.run import run_pipeline

        run_pipeline([inputs], load_config(None), runs, themes_file=THEMES, progress=True)
    return contract.read_run(runs)


def encoder(run: contract.Run):
    """texts -> vectors with the run's embedding model, through the project's embedding cache."""
    embedder = embedder_of(load_config(None).embed)
    if embedder.model_id != run.manifest.embedding_model:
        raise SystemExit(f"run {run.run_id} was embedded with {run.manifest.embedding_model}")

    def encode(texts: list[str]) -> np.ndarray:
        cache = EmbeddingCache(ROOT / "data/cache")
        try:
            return encode_cached(texts, embedder, cache)[0]
        finally:
            cache.close()

    return encode


def rescore(run: contract.Run, encode):
    """The theme stage of `run` again with the current code and THEMES (no answers)."""
    return assign_themes(
        run.embeddings(mmap=False),
        run.papers["title"].tolist(),
        run.papers["abstract"].tolist(),
        run.papers["paper_id"].tolist(),
        load_themes(THEMES),
        encode,
        theme_config_of(run.manifest.config),
        themes_source=str(THEMES),
    )


def same_as_stored(run: contract.Run, result) -> str:
    """One line: does the re-run theme stage give the run's stored themes?"""
    changed = int((result.assignment.theme_ids != run.assignments["theme_id"].to_numpy()).sum())
    if changed == 0 and np.allclose(result.prior, run.theme_prior(), atol=1e-4):
        return f"themes of run {run.run_id} re-run with the current code: as stored"
    return f"themes of run {run.run_id} re-run with the current code: {changed} papers changed"


class Model:
    """A run's prior (from the current code and themes file) and unit embeddings, refitted with
    any labels as the dashboard does."""

    def __init__(self, run: contract.Run, encode):
        result = rescore(run, encode)
        print(same_as_stored(run, result))
        self.run = run
        self.prior = result.prior
        self.vectors = unit(run.embeddings(mmap=False))
        self.paper_ids = run.assignments["paper_id"].tolist()
        self.classes = result.class_ids
        self.config = theme_config_of(run.manifest.config)
        self.examples = list(result.examples)

    def fit(self, answers: list[ThemeLabel]):
        return assign_from_prior(
            self.prior,
            self.vectors,
            self.paper_ids,
            self.classes,
            [*self.examples, *answers],
            self.config,
        )


def simulate(model: Model, labels: pd.DataFrame, checkpoints: list[int]) -> dict[int, dict]:
    """Scores after each number of simulated answers in `checkpoints`."""
    row_of = {p: i for i, p in enumerate(model.paper_ids)}
    labels = labels[labels["paper_id"].isin(row_of)]
    truth = dict(zip(labels["paper_id"], labels["primary"], strict=True))
    pool = [row_of[p] for p in labels["paper_id"]]
    clusters = model.run.assignments["cluster_id"].to_numpy()
    answered: list[int] = []
    results = {}
    fit = model.fit([])
    for target in sorted(checkpoints):
        while len(answered) < target and len(answered) < len(pool):
            queue = triage_queue(
                fit.probabilities, clusters, model.vectors, answered, STEP, candidates=pool
            )
            answered += [item.row for item in queue]
            answers = [
                ThemeLabel(model.paper_ids[r], (truth[model.paper_ids[r]],)) for r in answered
            ]
            fit = model.fit(answers)
        asked = {model.paper_ids[r] for r in answered}
        predicted = dict(zip(model.paper_ids, fit.theme_ids, strict=True))
        kept = labels[~labels["paper_id"].isin(asked)]
        results[target] = {"score": score(predicted, kept), "n_answered": len(answered)}
    return results


def reliability(model: Model, labels: pd.DataFrame) -> list[tuple[str, int, float, float]]:
    """(bin, papers, mean probability of the theme given, share right) for the labelled papers,
    no answers: a calibrated model has the last two close."""
    fit = model.fit([])
    row_of = {p: i for i, p in enumerate(model.paper_ids)}
    rows = [row_of[p] for p in labels["paper_id"] if p in row_of]
    kept = labels[labels["paper_id"].isin(row_of)]
    given = fit.theme_probability[rows]
    right = np.array(
        [
            fit.theme_ids[r] in {rec.primary, *rec.acceptable}
            for r, rec in zip(rows, kept.itertuples(), strict=True)
        ]
    )
    out = []
    for low, high in ((0, 0.5), (0.5, 0.7), (0.7, 0.85), (0.85, 0.95), (0.95, 1.01)):
        inside = (given >= low) & (given < high)
        if inside.any():
            out.append(
                (
                    f"{low:.2f}-{min(high, 1):.2f}",
                    int(inside.sum()),
                    given[inside].mean(),
                    right[inside].mean(),
                )
            )
    return out


def sample_score(runs: Path, encode) -> dict:
    """F1 of the sample run's themes (re-run with the current code) against the gold file made
    by reading (no answers)."""
    run = build(runs, SAMPLE)
    result = rescore(run, encode)
    print(same_as_stored(run, result))
    gold = pd.read_csv(GOLD, dtype=str).fillna("")
    labels = pd.DataFrame(
        {
            "paper_id": "arxiv:" + gold["arxiv_id"],
            "primary": gold["theme_id"],
            "acceptable": [[a] if a else [] for a in gold["also_acceptable"]],
        }
    )
    predicted = dict(zip(run.assignments["paper_id"], result.assignment.theme_ids, strict=True))
    examples = {label.paper_id for label in result.examples}
    return {
        "all": score(predicted, labels),
        "not_examples": score(predicted, labels[~labels["paper_id"].isin(examples)]),
        "n_examples": len(examples),
    }


def refit_seconds(model: Model, n_answers: int = 100) -> float:
    """Seconds for one refit plus re-scoring of every paper with `n_answers` answers."""
    rng = np.random.default_rng(0)
    rows = rng.choice(len(model.paper_ids), n_answers, replace=False)
    answers = [
        ThemeLabel(model.paper_ids[r], (model.classes[r % len(model.classes)],)) for r in rows
    ]
    started = time.perf_counter()
    model.fit(answers)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default=str(ROOT / "bench/results/theme-runs"))
    parser.add_argument("--answers", default="0,25,50,100")
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument(
        "--splits", default=",".join(SPLITS), help="labelled sets to score (while tuning: no eval)"
    )
    args = parser.parse_args(argv)
    runs = Path(args.runs)
    if not HF.is_file():
        print(f"skipped: {HF} is absent")
        return 0
    checkpoints = [int(a) for a in args.answers.split(",")]
    hf_run = build(runs / "hf", HF)
    encode = encoder(hf_run)
    model = Model(hf_run, encode)
    report: dict = {"run": model.run.run_id, "n_papers": len(model.paper_ids)}
    for split in args.splits.split(","):
        labels = load_labels(split)
        results = simulate(model, labels, checkpoints)
        print(f"\n{split} set ({len(labels)} labelled papers): macro F1 by simulated answers")
        for n, res in results.items():
            print(f" {n:>3} answers (scored on the {res['score'].n} not answered)")
            print("\n".join(res["score"].lines()))
        report[split] = {
            n: {
                "macro_f1": r["score"].macro_f1,
                "per_theme": r["score"].per_theme,
                "n_scored": r["score"].n,
            }
            for n, r in results.items()
        }
        curve = reliability(model, labels)
        random_half = reliability(model, labels[labels["draw"] == "random"])
        print(f" reliability ({split}, no answers): bin, papers, mean probability, share right")
        for b, n, p, r in curve:
            print(f"   {b}  {n:>4}  {p:.2f}  {r:.2f}")
        print(" same, randomly drawn papers only")
        for b, n, p, r in random_half:
            print(f"   {b}  {n:>4}  {p:.2f}  {r:.2f}")
        report[split]["reliability"] = curve
    sample = sample_score(runs / "sample", encode)
    print(f"\nsample (gold file; {sample['n_examples']} of its papers are examples):")
    print("\n".join(sample["all"].lines()))
    print(" without the example papers:")
    print("\n".join(sample["not_examples"].lines()))
    report["sample"] = {k: v.macro_f1 for k, v in sample.items() if k != "n_examples"}
    seconds = refit_seconds(model)
    print(
        f"\nrefit + re-scoring of {len(model.paper_ids)} papers with 100 answers: {seconds:.2f} s"
    )
    report["refit_seconds"] = seconds
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
