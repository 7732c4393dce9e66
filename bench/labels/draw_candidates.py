"""Draws the papers to label from the HF daily-papers corpus: two disjoint sets (tune, eval), each
half random and half drawn towards the four themes by a keyword pre-filter (not by any theme model).

Run: .venv/bin/python bench/labels/draw_candidates.py  -> bench/labels/candidates_{tune,eval}.csv
"""

from __future__ import annotations

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


def main() -> None:
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


if __name__ == "__main__":
    main()
