"""Property-style check, seeded: random bytes, random JSON nesting and random markup-heavy text,
fed to every reader (forced with `format`, and sniffed), never raise past ingest, never need its
last-resort guard, and finish in bounded time."""

from __future__ import annotations

import json
import random
import signal
import time
from contextlib import contextmanager

import pytest

from pipeline.config import IngestConfig
from pipeline.ingest import FORMATS, IngestError, ingest

SEED = 20240527
N_INPUTS = 24  # per reader and kind of input
SECONDS_PER_INPUT = 10
# Reasons that only the last guard in ingest writes: a reader or the normaliser raised.
GUARD_REASONS = ("reader stopped after", "record could not be normalised")
MARKUP = list("{}[]()\",:;@%$~^_&#\\'`<>=\n\r\t\x00 ") + ["@article{", "\\'", "$x$", "and"]
WORDS = ["title", "abstract", "paper", "year", "month", "author", "2024", "²", "é", "\ufffd"]


def _random_bytes(rng: random.Random) -> bytes:
    return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 3000)))


def _nested(rng: random.Random, depth: int) -> str:
    """JSON text nested `depth` levels (arrays and objects), with scalars of every kind."""
    scalars = ['"x"', "1", "-2.5e3", "true", "null", '"\\u0000"', "9" * rng.choice((1, 5000))]
    text = rng.choice(scalars)
    for _ in range(depth):
        text = f"[{text}]" if rng.random() < 0.5 else f'{{"{rng.choice(WORDS)}": {text}}}'
    return text


def _random_json(rng: random.Random) -> bytes:
    records = []
    for _ in range(rng.randrange(1, 4)):
        depth = rng.choice((0, 1, 3, 70, 900, 3000))
        fields = {"title": _nested(rng, depth), "abstract": json.dumps(" ".join(WORDS * 3))}
        key = rng.choice(["title", "abstract", "published", "authors", "id", "paper", "extra"])
        fields[key] = _nested(rng, depth)
        records.append("{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}")
    joiner = rng.choice([", ", "\n"])
    body = joiner.join(records)
    return (f"[{body}]" if joiner == ", " and rng.random() < 0.7 else body).encode()


def _random_markup(rng: random.Random) -> bytes:
    pieces = [rng.choice(MARKUP + WORDS) for _ in range(rng.randrange(1, 600))]
    return "".join(pieces).encode("utf-8", errors="replace")


KINDS = {"bytes": _random_bytes, "json": _random_json, "markup": _random_markup}


@contextmanager
def _deadline(seconds: int):
    def fail(signum, frame):
        raise TimeoutError(f"no result within {seconds} s")

    previous = signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("fmt", ["auto", *FORMATS])
def test_random_input_never_escapes_a_reader(fmt, kind, tmp_path):
    """Every reader turns random input into papers, rejections or an IngestError: no other
    exception, no use of the last-resort guard, and each input done within the deadline."""
    rng = random.Random(f"{SEED}-{fmt}-{kind}")
    suffix = {"auto": ".dat", "hf-daily": ".json", "arxiv-oai": ".jsonl"}.get(fmt, f".{fmt}")
    for number in range(N_INPUTS):
        path = tmp_path / f"input{number}{suffix}"
        path.write_bytes(KINDS[kind](rng))
        started = time.perf_counter()
        with _deadline(SECONDS_PER_INPUT):
            try:
                result = ingest([path], IngestConfig(format=fmt, min_abstract_words=3))
            except IngestError as exc:
                result = exc.result
        assert time.perf_counter() - started < SECONDS_PER_INPUT
        guarded = [r.reason for r in result.rejections if r.reason.startswith(GUARD_REASONS)]
        assert not guarded, (path.read_bytes()[:300], guarded)
