"""Embedding stage: reads papers' title + abstract, produces one L2-normalised float32 vector per
paper with the configured embedder (`pipeline/embedders.py`), through a content-hash cache (sqlite
under `data/cache/`) so no text is embedded twice under the same model id."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from pipeline.config import EmbedConfig
from pipeline.embedders import (  # noqa: F401  (re-exported: the embed stage's public names)
    BUNDLED_MODEL_ID,
    SentenceTransformerEmbedder,
    bundled_model_path,
    embedder_from_config,
)
from pipeline.records import Paper

# Texts handed to the embedder per call and committed to the cache per transaction: several
# batches, so sentence-transformers can sort them by length (less padding), and an interrupted
# run loses at most one chunk.
CHUNK_BATCHES = 8


@runtime_checkable
class Embedder(Protocol):
    """A role: turns texts into vectors. `model_id` names the model in the cache key and manifest.

    `encode` returns float32 of shape (len(texts), dim), rows L2-normalised; `batch_size` is texts
    per forward pass, 0 = the embedder's default for its device.
    """

    model_id: str

    def encode(self, texts: Sequence[str], batch_size: int = 0) -> np.ndarray: ...


def embedder_from_spec(spec: str) -> Embedder:
    """The embedder a `module:factory` spec names (a class or function called without
    arguments), e.g. `tests.fake_embedder:FakeEmbedder`: how tests give the pipeline's command
    line and the dashboard's search a fake model. Raises ValueError naming what is wrong."""
    import importlib

    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"embedder {spec!r}: expected module:factory")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"embedder {spec!r} cannot be loaded: {exc}") from None
    embedder = factory()
    if not isinstance(embedder, Embedder):
        raise ValueError(f"embedder {spec!r} has no model_id and encode()")
    return embedder


# What an embedder is built from where a live model cannot travel (a Ray actor builds its own):
# the `[embed]` config, or a `module:factory` spec.
EmbedderSpec = EmbedConfig | str


def embedder_of(spec: EmbedderSpec) -> Embedder:
    """A new embedder for `spec` (nothing is loaded until it first encodes)."""
    return embedder_from_spec(spec) if isinstance(spec, str) else embedder_from_config(spec)


def cache_key(model_id: str, text: str) -> bytes:
    """sha256 of model id + NUL + text: the same text under another model never collides."""
    return hashlib.sha256(f"{model_id}\0{text}".encode()).digest()


class EmbeddingCache:
    """Vectors keyed by `cache_key`, in one sqlite file (`embeddings.sqlite`).

    sqlite keeps lookups indexed at 100k+ vectors, commits each batch atomically (a killed run
    keeps what it finished), and tolerates several processes sharing the file.
    """

    def __init__(self, folder: str | Path):
        self.path = Path(folder) / "embeddings.sqlite"
        self._conn: sqlite3.Connection | None = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=60)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS vectors "
                "(key BLOB PRIMARY KEY, dim INTEGER NOT NULL, vector BLOB NOT NULL)"
            )
            self._conn = conn
        return self._conn

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        """The cached vectors among `keys` (missing keys are simply absent)."""
        found: dict[bytes, np.ndarray] = {}
        db = self._db()
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({marks})", chunk)
            for key, blob in rows:
                found[bytes(key)] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        db = self._db()
        rows = [
            (key, int(vec.shape[0]), np.ascontiguousarray(vec, dtype=np.float32).tobytes())
            for key, vec in zip(keys, vectors, strict=True)
        ]
        with db:
            db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)

    def __len__(self) -> int:
        return int(self._db().execute("SELECT COUNT(*) FROM vectors").fetchone()[0])

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


@dataclass(frozen=True)
class EmbedResult:
    """`embeddings`: float32 (n_papers, dim), rows in input order, L2-normalised."""

    embeddings: np.ndarray
    model_id: str
    n_cached: int
    n_embedded: int


def paper_text(paper: Paper) -> str:
    """The text a paper is embedded from: title, then abstract."""
    return f"{paper.title}. {paper.abstract}".strip()


def encode_cached(
    texts: Sequence[str],
    embedder: Embedder,
    cache: EmbeddingCache | None,
    batch_size: int = 0,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, int]:
    """Vectors for `texts` (rows in order), embedding only cache misses; returns (vectors, n_hit).

    `batch_size` is texts per forward pass (0 = the embedder's default). Misses are embedded and
    stored chunk by chunk (CHUNK_BATCHES batches), so an interrupted call loses one chunk at most.
    """
    keys = [cache_key(embedder.model_id, t) for t in texts]
    found = cache.get_many(keys) if cache is not None else {}
    missing: dict[bytes, str] = {}
    for key, text in zip(keys, texts, strict=True):
        if key not in found and key not in missing:
            missing[key] = text
    n_hit = sum(key in found for key in keys)
    if progress is not None and n_hit:
        progress(n_hit)
    todo = list(missing.items())
    chunk_size = CHUNK_BATCHES * (batch_size or 64)
    for start in range(0, len(todo), chunk_size):
        chunk = todo[start : start + chunk_size]
        vectors = embedder.encode([t for _, t in chunk], batch_size=batch_size)
        chunk_keys = [k for k, _ in chunk]
        if cache is not None:
            cache.put_many(chunk_keys, vectors)
        found.update(zip(chunk_keys, vectors, strict=True))
        if progress is not None:
            progress(len(chunk))
    if not keys:
        return np.zeros((0, 0), dtype=np.float32), 0
    return np.stack([found[k] for k in keys]).astype(np.float32, copy=False), n_hit


def embed_papers(
    papers: Sequence[Paper],
    embedder: Embedder,
    config: EmbedConfig,
    progress: Callable[[int], None] | None = None,
) -> EmbedResult:
    """Embed every paper (title + abstract), reading and filling the cache when enabled."""
    cache = EmbeddingCache(config.cache_dir) if config.use_cache else None
    try:
        vectors, n_hit = encode_cached(
            [paper_text(p) for p in papers], embedder, cache, config.batch_size, progress
        )
    finally:
        if cache is not None:
            cache.close()
    return EmbedResult(
        embeddings=vectors,
        model_id=embedder.model_id,
        n_cached=n_hit,
        n_embedded=len(papers) - n_hit,
    )


class BertopicEmbedder:
    """Adapter giving BERTopic (KeyBERTInspired, MMR) our embedder, through the same cache, so
    keyword candidates are embedded once across runs. Subclasses BERTopic's BaseEmbedder lazily."""

    def __new__(cls, embedder: Embedder, cache_dir: str | None, batch_size: int = 0):
        from bertopic.backend import BaseEmbedder

        class _Adapter(BaseEmbedder):
            def __init__(self):
                super().__init__()
                self.embedder = embedder
                self.cache_dir = cache_dir
                self.batch_size = batch_size

            def embed(self, documents, verbose=False):
                cache = EmbeddingCache(self.cache_dir) if self.cache_dir else None
                try:
                    vectors, _ = encode_cached(
                        list(documents), self.embedder, cache, self.batch_size
                    )
                finally:
                    if cache is not None:
                        cache.close()
                return vectors

        return _Adapter()
