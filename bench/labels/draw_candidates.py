"""Draws the papers to label from the HF daily-papers corpus: two disjoint sets (tune, eval), each
half random and half drawn towards the four themes by a keyword pre-filter (not by any theme model);
and, with --tune2, a second tuning set drawn towards what a stored run's theme model predicts.

Run: .venv/bin/python bench/labels/draw_candidates.py  -> bench/labels/candidates_{tune,eval}.csv
     .venv/bin/python bench/labels/draw_candidates.py --tune2 RUNS_DIR
       -> bench/labels/candidates_tune2.csv (arxiv_id, title, abstract: nothing about the model's
          prediction, so labelling stays blind) and candidates_tune2_draw.csv (arxiv_id, draw)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
CORPUS = (
    HERE.parents[2] / "shared/corpora/hf_daily_papers_2024_2026/hf_daily_papers_2024_2026.parquet"
)
SEED = 20261129
PER_SET_RANDOM = 150
PER_SET_PER_THEME = 38

TOWARDS = {
    "pretraining-data": r"pre-?train\w* (?:data|corpus|corpora|dataset|mixture)"
    r"|data (?:mixture|selection|curation|filtering)"
    r"|deduplicat|web[- ]crawl|common ?crawl|data quality",
    "continual-pretraining": r"continu\w* pre-?train|domain-adaptive pre"
    r"|catastrophic(?:ally)? forget|continual learning"
    r"|mid-?training|knowledge updat",
    "rl-post-training": r"reinforcement learning|\brlhf\b|preference optimi|\bdpo\b"
    r"|reward model|\bgrpo\b|\bppo\b"
    r"|\brlvr\b|verifiable reward",
    "control": r"robot|manipulation|locomotion|embodied|imitation learning|offline reinforcement"
    r"|decision transformer|controllab|steering|vision-language-action|autonomous driving",
}


def draw_first_sets() -> None:
    """candidates_{tune,eval}.csv: the first two sets."""
    corpus = pd.read_parquet(CORPUS, columns=["arxiv_id", "title", "abstract"])
    text = (corpus["title"] + " " + corpus["abstract"]).str.lower()
    rng = np.random.default_rng(SEED)
    taken: set[str] = set()
    sets: dict[str, list[pd.DataFrame]] = {"tune": [], "eval": []}
    for name in sets:
        pool = corpus[~corpus["arxiv_id"].isin(taken)]
        pick = pool.sample(PER_SET_RANDOM, random_state=int(rng.integers(2**31)))
        taken |= set(pick["arxiv_id"])
        sets[name].append(pick.assign(draw="random"))
        for theme, pattern in TOWARDS.items():
            hits = corpus[text.str.contains(pattern, regex=True) & ~corpus["arxiv_id"].isin(taken)]
            pick = hits.sample(PER_SET_PER_THEME, random_state=int(rng.integers(2**31)))
            taken |= set(pick["arxiv_id"])
            sets[name].append(pick.assign(draw=f"towards:{theme}"))
    for name, parts in sets.items():
        frame = pd.concat(parts).sample(frac=1.0, random_state=SEED)  # shuffled: draw is not a hint
        frame[["arxiv_id", "draw", "title", "abstract"]].to_csv(
            HERE / f"candidates_{name}.csv", index=False
        )
        print(name, len(frame))


# --tune2: papers of the HF run that its theme model (prior + the themes file's examples, no
# answers) gives to a theme, or ranks it second with at least TUNE2_SECOND_MIN probability; none of
# them in hf_tune.csv or hf_eval.csv. (theme, papers given it first, papers ranking it second.)
TUNE2_SEED = 20261130
TUNE2_SECOND_MIN = 0.2
TUNE2_DRAWS = (("pretraining-data", 70, 30), ("continual-pretraining", 14, 6))


def draw_tune2(runs: Path) -> None:
    """candidates_tune2.csv and candidates_tune2_draw.csv from the latest run in `runs`."""
    sys.path.insert(0, str(HERE.parents[1]))
    from pipeline import contract
    from pipeline.config import theme_config_of
    from pipeline.themes.evidence import unit
    from pipeline.themes.model import ThemeLabel, assign_from_prior

    run = contract.read_run(runs)
    classes = run.themes["theme_id"].tolist()
    examples = [
        ThemeLabel(r.paper_id, tuple(r.theme_ids), tuple(r.excluded), r.source)
        for r in run.theme_labels.itertuples(index=False)
    ]
    fit = assign_from_prior(
        run.theme_prior(),
        unit(run.embeddings(mmap=False)),
        run.assignments["paper_id"].tolist(),
        classes,
        examples,
        theme_config_of(run.manifest.config),
    )
    order = np.argsort(-fit.probabilities, axis=1)
    labelled = pd.concat(pd.read_csv(HERE / f"hf_{s}.csv", dtype=str) for s in ("tune", "eval"))
    papers = run.papers[["arxiv_id", "title", "abstract"]].reset_index(drop=True)
    is_free = ~papers["arxiv_id"].isin(set(labelled["arxiv_id"])).to_numpy()
    rng = np.random.default_rng(TUNE2_SEED)
    taken = np.zeros(len(papers), dtype=bool)
    parts = []
    for theme, n_first, n_second in TUNE2_DRAWS:
        j = classes.index(theme)
        is_second = (order[:, 1] == j) & (fit.probabilities[:, j] >= TUNE2_SECOND_MIN)
        for mask, n in ((order[:, 0] == j, n_first), (is_second, n_second)):
            rows = np.flatnonzero(mask & is_free & ~taken)
            rows = rng.choice(rows, min(n, len(rows)), replace=False)
            taken[rows] = True
            parts.append(papers.iloc[rows].assign(draw=f"towards:predicted-{theme}"))
    frame = pd.concat(parts).sample(frac=1.0, random_state=TUNE2_SEED)
    frame[["arxiv_id", "title", "abstract"]].to_csv(HERE / "candidates_tune2.csv", index=False)
    frame[["arxiv_id", "draw"]].to_csv(HERE / "candidates_tune2_draw.csv", index=False)
    print("tune2", len(frame))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tune2", metavar="RUNS_DIR", help="runs folder of the HF theme run")
    args = parser.parse_args()
    if args.tune2:
        draw_tune2(Path(args.tune2))
    else:
        draw_first_sets()


if __name__ == "__main__":
    main()
