"""Theme stage: reads a themes file (TOML) or the cluster hierarchy, the paper embeddings and the
clusters; produces each paper's theme ("other" when none fits) with a score."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.contract import OTHER, UNASSIGNED
from pipeline.labels import make_label


class ThemesFileError(ValueError):
    """A themes file that cannot be used; the message names the file, the line and the problem."""


@dataclass(frozen=True)
class Theme:
    """One named theme. `theme_id` is a slug (lower case, digits, hyphens)."""

    theme_id: str
    name: str
    description: str
    key_terms: tuple[str, ...] = ()


def slugify(text: str) -> str:
    """`RL post-training` -> `rl-post-training`."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


_THEME_KEYS = ("id", "name", "description", "key_terms")


def _theme_lines(text: str) -> list[int]:
    """1-based line numbers of every `[[theme]]` header, in order."""
    return [
        i
        for i, line in enumerate(text.splitlines(), 1)
        if re.match(r"\s*\[\[\s*theme\s*\]\]", line)
    ]


def parse_themes(text: str, source: str = "<themes>") -> tuple[Theme, ...]:
    """Parse themes TOML text: one `[[theme]]` table per theme with `name`, `description`, and
    optional `key_terms` (list of strings) and `id` (slug; default: slug of the name)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ThemesFileError(f"{source}: invalid TOML: {exc}") from None
    extra = sorted(set(data) - {"theme"})
    if extra:
        raise ThemesFileError(
            f"{source}: unknown top-level key(s) {', '.join(extra)}; themes go in [[theme]] tables"
        )
    entries = data.get("theme")
    if not isinstance(entries, list) or not entries:
        raise ThemesFileError(f"{source}: no themes; add at least one [[theme]] table")
    lines = _theme_lines(text)
    themes: list[Theme] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        line = lines[index] if index < len(lines) else None
        where = f"{source}, line {line}" if line else f"{source}, theme {index + 1}"
        if not isinstance(entry, dict):
            raise ThemesFileError(f"{where}: a theme must be a table")
        unknown = sorted(set(entry) - set(_THEME_KEYS))
        if unknown:
            raise ThemesFileError(
                f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(_THEME_KEYS)}"
            )
        for key in ("name", "description"):
            value = entry.get(key)
            if not isinstance(value, str) or not value.strip():
                raise ThemesFileError(f"{where}: `{key}` must be a non-empty string")
        terms = entry.get("key_terms", [])
        if not isinstance(terms, list) or not all(isinstance(t, str) and t.strip() for t in terms):
            raise ThemesFileError(f"{where}: `key_terms` must be a list of non-empty strings")
        theme_id = entry.get("id", slugify(entry["name"]))
        if not isinstance(theme_id, str) or theme_id != slugify(theme_id) or not theme_id:
            raise ThemesFileError(
                f"{where}: `id` must be a slug of lower-case letters, digits and hyphens"
            )
        if theme_id == OTHER:
            raise ThemesFileError(f"{where}: the id `{OTHER}` is reserved for unmatched papers")
        if theme_id in seen:
            raise ThemesFileError(
                f"{where}: duplicate theme id `{theme_id}` (first at line {seen[theme_id]})"
            )
        seen[theme_id] = line or index + 1
        themes.append(
            Theme(
                theme_id=theme_id,
                name=entry["name"].strip(),
                description=" ".join(entry["description"].split()),
                key_terms=tuple(t.strip() for t in terms),
            )
        )
    return tuple(themes)


def load_themes(path: str | Path) -> tuple[Theme, ...]:
    """Read and validate a themes file; ThemesFileError names the line of any problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ThemesFileError(f"themes file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ThemesFileError(f"cannot read themes file {path}: {exc}") from None
    return parse_themes(text, str(path))


@dataclass(frozen=True)
class ThemeResult:
    """Per-paper `theme_ids` (str) and `scores` (float64, higher = surer), in input order;
    `themes` lists every named or generated theme ("other" is implied)."""

    theme_ids: np.ndarray
    scores: np.ndarray
    themes: tuple[Theme, ...]
    is_generated: bool
    method: str


def _unit(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float64)
    return matrix / (np.linalg.norm(matrix, axis=-1, keepdims=True) + 1e-12)


def theme_texts(theme: Theme) -> list[str]:
    """Texts embedded for a theme: its description sentence, then each key term."""
    return [f"{theme.name}: {theme.description}", *theme.key_terms]


def theme_similarity(
    embeddings: np.ndarray,
    themes: Sequence[Theme],
    encode: Callable[[list[str]], np.ndarray],
    top_terms: int = 3,
) -> np.ndarray:
    """Paper-by-theme cosine similarity, shape (n_papers, n_themes).

    Each theme is scored as the mean of (a) the similarity to its description and (b) the mean of
    the paper's `top_terms` best key-term similarities (a paper needs to match only some terms).
    """
    papers = _unit(embeddings)
    columns = []
    for theme in themes:
        vectors = _unit(encode(theme_texts(theme)))
        sims = papers @ vectors.T
        description = sims[:, 0]
        if sims.shape[1] > 1:
            terms = np.sort(sims[:, 1:], axis=1)[:, ::-1][:, :top_terms].mean(axis=1)
            columns.append((description + terms) / 2)
        else:
            columns.append(description)
    return np.stack(columns, axis=1) if columns else np.zeros((len(papers), 0))


def cluster_smoothed(
    similarity: np.ndarray, cluster_ids: np.ndarray, paper_weight: float
) -> np.ndarray:
    """Blend each paper's theme scores with its cluster's mean (unassigned: paper only)."""
    blended = similarity.copy()
    for cluster in set(cluster_ids.tolist()) - {UNASSIGNED}:
        members = cluster_ids == cluster
        blended[members] = paper_weight * similarity[members] + (1 - paper_weight) * similarity[
            members
        ].mean(axis=0)
    return blended


_PREFIXES = ("pre", "post", "self", "multi", "non", "fine")


def _word_pattern(word: str) -> str:
    for prefix in _PREFIXES:
        if word.startswith(prefix) and len(word) > len(prefix) + 2:
            return re.escape(prefix) + r"[\s-]?" + re.escape(word[len(prefix) :])
    return re.escape(word)


def _term_pattern(term: str) -> re.Pattern:
    """A key term as a regex: word boundaries, any spaces or hyphens between its words and after
    common prefixes, so "continual pretraining" also matches "Continual Pre-Training"."""
    words = re.sub(r"[-_/]", " ", term.lower()).split()
    return re.compile(r"\b" + r"[\s-]*".join(_word_pattern(w) for w in words), re.IGNORECASE)


def term_hits(
    titles: Sequence[str], abstracts: Sequence[str], themes: Sequence[Theme]
) -> np.ndarray:
    """log(1 + occurrences of a theme's name and key terms), title hits counted twice; shape
    (n_papers, n_themes). Exact phrases are precise where a small embedding model is vague."""
    out = np.zeros((len(titles), len(themes)))
    for j, theme in enumerate(themes):
        for term in (theme.name, *theme.key_terms):
            pattern = _term_pattern(term)
            out[:, j] += [
                2 * len(pattern.findall(t)) + len(pattern.findall(a))
                for t, a in zip(titles, abstracts, strict=True)
            ]
    return np.log1p(out)


def standardise(scores: np.ndarray) -> np.ndarray:
    """Per theme (column): subtract the corpus mean, divide by the standard deviation.

    A theme's raw similarity mostly reflects the corpus' shared vocabulary (every paper of a
    pretraining listing is somewhat similar to "pretraining data"); its z-score says how much
    more a paper matches it than the corpus does. Constant columns become 0.
    """
    if len(scores) < 2:
        return np.zeros_like(scores)
    std = scores.std(axis=0)
    return np.where(std > 1e-9, (scores - scores.mean(axis=0)) / np.where(std > 1e-9, std, 1), 0.0)


def named_theme_scores(
    embeddings: np.ndarray,
    titles: Sequence[str],
    abstracts: Sequence[str],
    cluster_ids: np.ndarray,
    themes: Sequence[Theme],
    encode: Callable[[list[str]], np.ndarray],
    paper_weight: float,
    lexical_weight: float,
    evidence_similarity: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(scores, eligible), both (n_papers, n_themes).

    `scores` are in z units: z(embedding similarity) + lexical_weight * z(term hits), blended
    with the cluster mean (see `cluster_smoothed`). `eligible` is False where a paper shows no
    evidence of its own for a theme: none of the theme's name or key terms in its text and a raw
    similarity below `evidence_similarity`. z-scores are relative to the corpus, so without this
    gate a broad corpus would hand every theme its top slice of papers however unrelated.
    """
    similarity = theme_similarity(embeddings, themes, encode)
    hits = term_hits(titles, abstracts, themes)
    scores = standardise(similarity)
    if lexical_weight:
        scores = scores + lexical_weight * standardise(hits)
    scores = cluster_smoothed(scores, cluster_ids, paper_weight)
    return scores, (hits > 0) | (similarity >= evidence_similarity)


def assign_named_themes(
    embeddings: np.ndarray,
    titles: Sequence[str],
    abstracts: Sequence[str],
    cluster_ids: np.ndarray,
    themes: Sequence[Theme],
    encode: Callable[[list[str]], np.ndarray],
    config,
) -> tuple[np.ndarray, np.ndarray]:
    """(theme_ids, scores): the best eligible theme by `named_theme_scores`, or "other" when
    none is eligible or its score is below `config.min_score`. The score is the best eligible
    theme's (z units, higher = surer); a paper with no eligible theme gets its best score capped
    just below `min_score`."""
    scores, eligible = named_theme_scores(
        embeddings,
        titles,
        abstracts,
        cluster_ids,
        themes,
        encode,
        config.paper_weight,
        config.lexical_weight,
        config.evidence_similarity,
    )
    gated = np.where(eligible, scores, -np.inf)
    best = gated.argmax(axis=1)
    best_score = gated[np.arange(len(best)), best]
    ids = np.array([themes[b].theme_id for b in best], dtype=object)
    none = ~eligible.any(axis=1)
    best_score[none] = np.minimum(scores[none].max(axis=1), config.min_score - 1e-6)
    ids[none | (best_score < config.min_score)] = OTHER
    return ids, best_score.astype(np.float64)


def generated_themes(
    hierarchy: pd.DataFrame,
    cluster_ids: np.ndarray,
    labels: dict[int, str],
    keywords: dict[int, tuple[str, ...]],
    n_groups: int,
) -> tuple[tuple[Theme, ...], dict[int, str]]:
    """Themes from the top levels of the merge tree: split the highest merge until `n_groups`
    groups remain; each is named from its node's keywords. Returns (themes, cluster -> theme)."""
    leaves = sorted({int(c) for c in cluster_ids.tolist()} - {UNASSIGNED})
    if not leaves:
        return (), {}
    nodes = {int(r.parent_id): r for r in hierarchy.itertuples(index=False)}
    if nodes:
        groups = [max(nodes)]  # the root merges everything
        while len(groups) < n_groups:
            inner = [g for g in groups if g in nodes]
            if not inner:
                break
            top = max(inner, key=lambda g: nodes[g].distance)
            groups.remove(top)
            groups += [int(nodes[top].child_left_id), int(nodes[top].child_right_id)]
    else:
        groups = leaves[:1]
    themes: list[Theme] = []
    mapping: dict[int, str] = {}
    used: set[str] = set()
    for group in sorted(groups, key=lambda g: min(_leaves(g, nodes))):
        members = _leaves(group, nodes)
        if group in nodes:
            words = [w.strip() for w in str(nodes[group].parent_name).split(",") if w.strip()]
        else:
            words = list(keywords.get(group, ()))
        name = make_label(words) or labels.get(group, f"group {group}")
        theme_id = slugify(name) or f"group-{group}"
        while theme_id in used or theme_id == OTHER:
            theme_id += f"-{group}"
        used.add(theme_id)
        description = "clusters " + ", ".join(f"{c} ({labels.get(c, '')})" for c in sorted(members))
        themes.append(Theme(theme_id, name, description, tuple(words[:5])))
        for cluster in members:
            mapping[cluster] = theme_id
    return tuple(themes), mapping


def _leaves(node: int, nodes: dict) -> list[int]:
    if node not in nodes:
        return [node]
    return list(nodes[node].cluster_ids)


def auto_n_generated(n_clusters: int) -> int:
    return int(np.clip(round(np.sqrt(max(n_clusters, 1))), 2, 8))


def assign_themes(
    embeddings: np.ndarray,
    cluster_ids: np.ndarray,
    themes: Sequence[Theme] | None,
    encode: Callable[[list[str]], np.ndarray],
    config,
    hierarchy: pd.DataFrame | None = None,
    labels: dict[int, str] | None = None,
    keywords: dict[int, tuple[str, ...]] | None = None,
    titles: Sequence[str] | None = None,
    abstracts: Sequence[str] | None = None,
) -> ThemeResult:
    """Give every paper a theme (see module docstring).

    With `themes` (from a file), papers are scored against them; without, themes are generated
    from the hierarchy and a paper takes its cluster's theme, scored by similarity to the theme's
    centroid. `config` is a `ThemeConfig`.
    """
    cluster_ids = np.asarray(cluster_ids, dtype=np.int64)
    n = len(cluster_ids)
    if themes:
        ids, scores = assign_named_themes(
            embeddings,
            titles or [""] * n,
            abstracts or [""] * n,
            cluster_ids,
            themes,
            encode,
            config,
        )
        is_generated = False
        method = (
            "z-scored similarity to description and key terms + lexical key-term hits, "
            "blended with the cluster mean; 'other' below min_score"
        )
    else:
        n_clusters = len(set(cluster_ids.tolist()) - {UNASSIGNED})
        themes, mapping = generated_themes(
            hierarchy if hierarchy is not None else pd.DataFrame(columns=["parent_id"]),
            cluster_ids,
            labels or {},
            keywords or {},
            config.n_generated or auto_n_generated(n_clusters),
        )
        ids = np.array([mapping.get(int(c), OTHER) for c in cluster_ids], dtype=object)
        scores = np.zeros(n)
        unit = _unit(embeddings) if n else embeddings
        for theme in themes:
            members = ids == theme.theme_id
            centroid = _unit(unit[members].mean(axis=0))
            scores[members] = unit[members] @ centroid
        is_generated = True
        method = "generated from the top levels of the cluster hierarchy"
    return ThemeResult(
        theme_ids=ids,
        scores=np.asarray(scores, dtype=np.float64),
        themes=tuple(themes),
        is_generated=is_generated,
        method=method,
    )
