"""A fake embedder with planted topics and a matching synthetic corpus, so the whole pipeline runs
offline in seconds: each topic word points along its topic's fixed direction (plus a small
word-specific offset), other words along seeded random directions, and each text gets seeded noise.
For runs of millions with no text at all, `planted_vectors` makes the vectors directly and
`PlantedDocs` the matching texts on demand.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from pipeline.records import Paper

# Planted topics: name -> vocabulary. The first four match the themes in PLANTED_THEMES_TOML;
# "vision" matches no theme, so its papers should end up "other".
TOPICS: dict[str, tuple[str, ...]] = {
    "data": (
        "corpus",
        "deduplication",
        "filtering",
        "mixture",
        "crawl",
        "toxicity",
        "tokens",
        "quality",
        "curation",
        "webtext",
    ),
    "continual": (
        "continual",
        "forgetting",
        "rewarming",
        "replay",
        "stability",
        "drift",
        "updating",
        "retention",
        "domains",
        "schedule",
    ),
    "rl": (
        "reward",
        "preference",
        "rlhf",
        "dpo",
        "ppo",
        "alignment",
        "feedback",
        "critic",
        "verifier",
        "rollouts",
    ),
    "robot": (
        "robot",
        "manipulation",
        "grasping",
        "imitation",
        "locomotion",
        "trajectories",
        "gripper",
        "teleoperation",
        "actuator",
        "dexterous",
    ),
    "vision": (
        "segmentation",
        "pixels",
        "detection",
        "images",
        "convolution",
        "bounding",
        "resolution",
        "camera",
        "depth",
        "optical",
    ),
}
# Two-word phrases of each topic's own words, as real titles repeat a field's noun phrases: each
# title starts with one of its topic's phrases, so clusters have labels that occur in them.
PHRASES: dict[str, tuple[str, ...]] = {
    "data": ("webtext curation", "toxicity filtering", "corpus deduplication"),
    "continual": ("forgetting retention", "continual replay", "schedule rewarming"),
    "rl": ("preference alignment", "reward critic", "dpo rollouts"),
    "robot": ("dexterous grasping", "imitation trajectories", "robot teleoperation"),
    "vision": ("depth segmentation", "camera resolution", "bounding detection"),
}
FILLER = tuple(
    "model models training large results method experiments performance baseline language "
    "learning approach tasks evaluate benchmark analysis framework scale study network".split()
)
PLANTED_THEMES_TOML = """
[[theme]]
id = "pretraining-data"
name = "pretraining data"
description = "corpus mixture filtering deduplication quality"
key_terms = ["corpus", "deduplication", "toxicity"]

[[theme]]
id = "continual-pretraining"
name = "continual pretraining"
description = "continual forgetting rewarming replay"
key_terms = ["continual", "forgetting"]

[[theme]]
id = "rl-post-training"
name = "RL post-training"
description = "reward preference rlhf dpo alignment"
key_terms = ["reward", "preference"]

[[theme]]
id = "control"
name = "control"
description = "robot manipulation imitation grasping"
key_terms = ["robot", "imitation"]
"""
TOPIC_THEME = {
    "data": "pretraining-data",
    "continual": "continual-pretraining",
    "rl": "rl-post-training",
    "robot": "control",
    "vision": "other",
}


def _seeded(text: str, salt: str, dim: int) -> np.ndarray:
    digest = hashlib.sha256(f"{salt}\0{text}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little")).standard_normal(dim)


class FakeEmbedder:
    """Embedder protocol implementation with planted topic directions; counts texts it encodes."""

    def __init__(self, dim: int = 48, noise: float = 0.35, seed: int = 0):
        self.dim = dim
        self.noise = noise
        self.model_id = f"fake-planted-d{dim}-n{noise}-s{seed}"
        self.n_encoded = 0
        rng = np.random.default_rng(seed)
        self.directions = {name: rng.standard_normal(dim) for name in TOPICS}
        self.word_topic = {w: name for name, words in TOPICS.items() for w in words}

    def word_vector(self, word: str) -> np.ndarray:
        topic = self.word_topic.get(word)
        offset = _seeded(word, "word", self.dim)
        if topic is None:
            return 0.15 * offset
        return self.directions[topic] + 0.3 * offset

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        self.n_encoded += len(texts)
        rows = []
        for text in texts:
            words = re.findall(r"[a-z0-9]+", text.lower())
            vector = sum((self.word_vector(w) for w in words), np.zeros(self.dim))
            if words:
                vector = vector / len(words)
            vector = vector / (np.linalg.norm(vector) + 1e-9)
            vector = vector + self.noise * _seeded(text, "text", self.dim) / np.sqrt(self.dim)
            rows.append(vector / (np.linalg.norm(vector) + 1e-9))
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dim)


def planted_corpus(
    n_per_topic: int = 30, seed: int = 0, topics: Sequence[str] | None = None
) -> tuple[list[Paper], list[str]]:
    """(papers, planted topic per paper): titles (one of the topic's PHRASES, then its words)
    and abstracts mixing one topic's words with shared filler; dates spread over 2023-01..2024-12
    (every 7th paper undated)."""
    rng = np.random.default_rng(seed)
    names = list(topics or TOPICS)
    papers: list[Paper] = []
    planted: list[str] = []
    for t_index, name in enumerate(names):
        vocab = TOPICS[name]
        for i in range(n_per_topic):
            phrase = str(rng.choice(PHRASES[name]))
            title_words = [
                phrase,
                "for",
                *rng.choice(vocab, 2, replace=False),
                *rng.choice(FILLER, 1),
            ]
            body = [
                str(rng.choice(vocab)) if rng.random() < 0.45 else str(rng.choice(FILLER))
                for _ in range(40)
            ]
            k = len(papers)
            month = 1 + (k * 7) % 24
            published = (
                None if k % 7 == 6 else f"{2023 + (month - 1) // 12}-{(month - 1) % 12 + 1:02d}-15"
            )
            papers.append(
                Paper(
                    paper_id=f"fake:{name}-{i:03d}",
                    title=" ".join(title_words).capitalize(),
                    abstract=" ".join(body).capitalize() + ".",
                    published=published,
                    date_precision="day" if published else None,
                    authors=(f"Author {t_index}",),
                    source_file="planted.jsonl",
                    source_location=f"record {k + 1}",
                )
            )
            planted.append(name)
    order = rng.permutation(len(papers))
    return [papers[i] for i in order], [planted[i] for i in order]


class PlantedDocs:
    """Text of synthetic paper i, made on demand (only the fitted sample's are ever read): its
    planted cluster's words, so c-TF-IDF keywords have something to find."""

    def __init__(self, labels):
        self.labels = labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> str:
        c = int(self.labels[i])
        return f"topic{c} subject{c} method{c} results for cluster{c} paper {i % 97}"


def planted_vectors(n: int, dim: int, n_clusters: int, seed: int):
    """(vectors float32 (n, dim) unit rows, labels (n,)): each point its cluster's random unit
    centre plus Gaussian noise (per-coordinate sd 0.6/sqrt(dim)), made in chunks."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    labels = rng.integers(0, n_clusters, n)
    vectors = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):
        part = labels[start : start + 100_000]
        noise = rng.standard_normal((len(part), dim)).astype(np.float32) * (0.6 / np.sqrt(dim))
        block = centres[part] + noise
        vectors[start : start + len(part)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return vectors, labels
