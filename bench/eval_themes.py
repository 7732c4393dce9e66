"""Theme-method comparison on the 75-paper sample: reads the latest sample run (clusters) and the
hand-labelled gold file tests/fixtures/sample_theme_gold.csv; prints accuracy per method.

Run: .venv/bin/python bench/eval_themes.py [RUNS_DIR]   (needs a run of the sample in RUNS_DIR)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline import contract  # noqa: E402
from pipeline.config import EmbedConfig, ThemeConfig  # noqa: E402
from pipeline.contract import OTHER  # noqa: E402
from pipeline.embed import EmbeddingCache, embedder_from_config, encode_cached  # noqa: E402
from pipeline.themes import (  # noqa: E402
    _unit,
    cluster_smoothed,
    load_themes,
    named_theme_scores,
    standardise,
    term_hits,
    theme_similarity,
)


def gold_frame() -> pd.DataFrame:
    return pd.read_csv(ROOT / "tests/fixtures/sample_theme_gold.csv", dtype=str).fillna("")


def score(pred: np.ndarray, gold: pd.DataFrame) -> tuple[float, float]:
    """(strict accuracy, lenient accuracy: the second acceptable label also counts)."""
    strict = (pred == gold["theme_id"].to_numpy()).mean()
    lenient = np.mean(
        [
            p == g or (p == a and a != "")
            for p, g, a in zip(pred, gold["theme_id"], gold["also_acceptable"], strict=True)
        ]
    )
    return float(strict), float(lenient)


def decide(scores: np.ndarray, ids: list[str], threshold: float) -> np.ndarray:
    best = scores.argmax(axis=1)
    out = np.array([ids[b] for b in best], dtype=object)
    out[scores.max(axis=1) < threshold] = OTHER
    return out


def cv_accuracy(scores: np.ndarray, ids: list[str], gold: pd.DataFrame, grid, folds: int = 5):
    """Threshold chosen on 4/5 of the papers, accuracy measured on the held-out fifth."""
    rng = np.random.default_rng(0)
    order = rng.permutation(len(gold))
    correct = np.zeros(len(gold), dtype=bool)
    for k in range(folds):
        test = order[k::folds]
        train = np.setdiff1d(order, test)
        best_t = max(grid, key=lambda t: score(decide(scores[train], ids, t), gold.iloc[train])[0])
        pred = decide(scores[test], ids, best_t)
        correct[test] = pred == gold.iloc[test]["theme_id"].to_numpy()
    return float(correct.mean())


def main() -> None:
    runs_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "data/runs"
    run = contract.read_run(runs_dir)
    gold = gold_frame()
    papers = run.papers.assign(arxiv_id=run.papers["arxiv_id"].astype(str))
    index = {a: i for i, a in enumerate(papers["arxiv_id"])}
    rows = [index[a] for a in gold["arxiv_id"]]
    emb = np.asarray(run.embeddings(mmap=False))[rows]
    clusters = run.assignments["cluster_id"].to_numpy()[rows]
    texts = (papers["title"] + ". " + papers["abstract"]).to_numpy()[rows]
    themes = load_themes(ROOT / "data/themes.toml")
    ids = [t.theme_id for t in themes]
    embedder = embedder_from_config(EmbedConfig())
    cache = EmbeddingCache(EmbedConfig().cache_dir)

    def encode(t):
        return encode_cached(t, embedder, cache)[0]

    unit = _unit(emb)
    desc_only = np.stack(
        [unit @ _unit(encode([f"{t.name}: {t.description}"]))[0] for t in themes], 1
    )
    name_only = np.stack([unit @ _unit(encode([t.name]))[0] for t in themes], 1)
    desc_terms = theme_similarity(emb, themes, encode)

    # Lexical: share of a theme's key terms (stemmed words) found in title + abstract.
    def lexical():
        out = np.zeros((len(texts), len(themes)))
        low = [t.lower() for t in texts]
        for j, theme in enumerate(themes):
            for term in (theme.name, *theme.key_terms):
                pat = r"\b" + r"\W+".join(re.escape(w[:6]) for w in term.lower().split())
                out[:, j] += [bool(re.search(pat, x)) for x in low]
            out[:, j] /= 1 + len(theme.key_terms)
        return out

    lex = lexical()
    titles = papers["title"].to_numpy()[rows]
    abstracts = papers["abstract"].to_numpy()[rows]
    grid = np.round(np.arange(-1.0, 2.0, 0.01), 2)
    methods = {
        "name only (zero-shot topic names)": name_only,
        "description only": desc_only,
        "description + key terms": desc_terms,
        "lexical key-term match": lex,
    }
    for w in (0.0, 0.5, 0.7):
        methods[f"description + key terms, cluster-smoothed (paper weight {w})"] = cluster_smoothed(
            desc_terms, clusters, w
        )
    z = standardise(desc_terms)
    methods["z-scored description + key terms"] = z
    methods["z-scored, cluster-smoothed (paper weight 0.5)"] = cluster_smoothed(z, clusters, 0.5)
    methods["z-scored + lexical hits (0.5), no smoothing"] = z + 0.5 * standardise(
        term_hits(titles, abstracts, themes)
    )
    config = ThemeConfig()
    ungated, _ = named_theme_scores(
        emb, titles, abstracts, clusters, themes, encode, config.paper_weight, config.lexical_weight
    )
    methods["z-scored + lexical hits (0.5), cluster-smoothed (0.5)"] = ungated
    scores, eligible = named_theme_scores(
        emb,
        titles,
        abstracts,
        clusters,
        themes,
        encode,
        config.paper_weight,
        config.lexical_weight,
        config.evidence_similarity,
    )
    chosen = np.where(eligible, scores, -np.inf)
    methods["CHOSEN: ... + evidence gate (0.4)"] = chosen
    print(f"{'method':<62} {'best t':>6} {'strict':>6} {'lenient':>7} {'5-fold CV':>9}")
    for name, s in methods.items():
        best_t = max(grid, key=lambda t: score(decide(s, ids, t), gold)[0])
        strict, lenient = score(decide(s, ids, best_t), gold)
        print(
            f"{name:<62} {best_t:>6.2f} {strict:>6.1%} {lenient:>7.1%} "
            f"{cv_accuracy(s, ids, gold, grid):>9.1%}"
        )
    strict, lenient = score(decide(chosen, ids, config.min_score), gold)
    print(
        f"{'CHOSEN at the default min_score ' + str(config.min_score):<62} "
        f"{config.min_score:>6.2f} {strict:>6.1%} {lenient:>7.1%}"
    )
    majority = np.array([OTHER] * len(gold), dtype=object)
    print(
        f"{'baseline: everything other':<62} {'':>6} "
        f"{score(majority, gold)[0]:>6.1%} {score(majority, gold)[1]:>7.1%}"
    )


if __name__ == "__main__":
    main()
