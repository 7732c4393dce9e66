"""The labelled HF sets (bench/labels/hf_{tune,tune2,eval}.csv) and their scoring rule (see
bench/labels/RULES.md): a prediction is right when it is the primary label or an acceptable one;
per theme precision, recall and F1; macro F1 over the four named themes.

Bench scripts only: labels never enter the model's defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

LABELS = Path(__file__).resolve().parent / "labels"
THEMES = ("pretraining-data", "continual-pretraining", "rl-post-training", "control")
SPLITS = ("tune", "tune2", "eval")  # tune, tune2: for tuning; eval: held out, report only


def load_labels(split: str) -> pd.DataFrame:
    """arxiv_id, draw, primary, acceptable (a list), title, why; one row per labelled paper."""
    frame = pd.read_csv(LABELS / f"hf_{split}.csv", dtype=str).fillna("")
    frame["acceptable"] = frame["acceptable"].map(lambda v: [a for a in v.split(";") if a])
    frame["paper_id"] = "arxiv:" + frame["arxiv_id"]
    return frame


@dataclass(frozen=True)
class ThemeScore:
    """Per theme (precision, recall, f1), macro F1 over the named themes, accuracy, n. A theme
    with neither a labelled nor a predicted paper among those scored has no score (None) and is
    left out of the macro average (after many answers a small theme can run out of papers)."""

    per_theme: dict[str, tuple[float, float, float] | None]
    macro_f1: float
    accuracy: float
    n: int

    def lines(self) -> list[str]:
        rows = [
            f"  {t:<22} P {v[0]:.2f}  R {v[1]:.2f}  F1 {v[2]:.2f}"
            if v
            else f"  {t:<22} no labelled or predicted paper left: not scored"
            for t, v in self.per_theme.items()
        ]
        return rows + [
            f"  macro F1 {self.macro_f1:.3f}  accuracy {self.accuracy:.3f}  (n={self.n})"
        ]


def score(predicted: dict[str, str], labels: pd.DataFrame) -> ThemeScore:
    """Score `predicted` (paper_id -> theme id or 'other') on the labelled papers it covers."""
    tp = dict.fromkeys(THEMES, 0)
    fp = dict.fromkeys(THEMES, 0)
    fn = dict.fromkeys(THEMES, 0)
    right = n = 0
    for row in labels.itertuples():
        if row.paper_id not in predicted:
            continue
        n += 1
        guess = predicted[row.paper_id]
        allowed = {row.primary, *row.acceptable}
        right += guess in allowed
        if guess in THEMES:
            if guess in allowed:
                tp[guess] += 1
            else:
                fp[guess] += 1
        if row.primary in THEMES and guess not in allowed:
            fn[row.primary] += 1
    per_theme: dict[str, tuple[float, float, float] | None] = {}
    for t in THEMES:
        if tp[t] + fp[t] + fn[t] == 0:
            per_theme[t] = None
            continue
        p = tp[t] / (tp[t] + fp[t]) if tp[t] + fp[t] else 0.0
        r = tp[t] / (tp[t] + fn[t]) if tp[t] + fn[t] else 0.0
        per_theme[t] = (p, r, 2 * p * r / (p + r) if p + r else 0.0)
    scored = [v[2] for v in per_theme.values() if v]
    macro = sum(scored) / len(scored) if scored else 0.0
    return ThemeScore(per_theme, macro, right / n if n else 0.0, n)
