"""Embedders for the Ray engine tests, built inside Ray's actors from a `module:factory` spec:
each logs a digest of every text it encodes to a file per process under $RTE_TEST_ENCODE_LOG, so
a test counts encodings across processes; one fails after some blocks, one kills its process
once. All share FakeEmbedder's model id, so their vectors land under the same cache keys."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tests.fake_embedder import FakeEmbedder

LOG_ENV = "RTE_TEST_ENCODE_LOG"
# FailingEmbedder encodes this many blocks in each process, then raises.
BLOCKS_BEFORE_FAILURE = 2


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def encoded_digests() -> list[str]:
    """Digests of every text any process encoded so far (with repeats)."""
    folder = Path(os.environ[LOG_ENV])
    return [line for path in folder.glob("*.log") for line in path.read_text().split()]


class LoggingEmbedder(FakeEmbedder):
    """FakeEmbedder that logs each text it encoded (after encoding it)."""

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        vectors = super().encode(texts, batch_size)
        log = Path(os.environ[LOG_ENV]) / f"{os.getpid()}.log"
        with open(log, "a", encoding="utf-8") as handle:
            handle.write("".join(text_digest(t) + "\n" for t in texts))
        return vectors


class FailingEmbedder(LoggingEmbedder):
    """Raises on its block number BLOCKS_BEFORE_FAILURE + 1, before encoding anything."""

    def __init__(self):
        super().__init__()
        self.n_blocks = 0

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        if self.n_blocks >= BLOCKS_BEFORE_FAILURE:
            raise RuntimeError("planted failure")
        self.n_blocks += 1
        return super().encode(texts, batch_size)


class DyingEmbedder(LoggingEmbedder):
    """The first process to encode anything exits at once (a killed worker), before encoding;
    every later call encodes normally. The marker file makes it happen once per log folder."""

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        marker = Path(os.environ[LOG_ENV]) / "died"
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return super().encode(texts, batch_size)
        os._exit(1)
