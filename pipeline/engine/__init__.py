"""Where the heavy steps run: reads the `engine` and `[ray]` config; produces an engine the run
embeds papers and maps chunks of papers through, in this process (the default) or on Ray. Ray is
imported only when the engine is "ray" (`pipeline/engine/ray_engine.py`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from pipeline.config import PipelineConfig


class EngineError(Exception):
    """The engine cannot start or cannot finish a job for a reason the user can fix (one line):
    Ray not installed, a cluster address that cannot be reached, a job that failed."""


class Engine(Protocol):
    """A role: runs the run's parallel work. `map_chunks(fn, shared, rows)` returns
    `[fn(chunk, shared) for chunk in row chunks]` in order (`shared` sent once)."""

    name: str

    def map_chunks(self, fn: Callable[[np.ndarray, Any], Any], shared: Any, rows: np.ndarray): ...

    def close(self) -> None: ...


class InProcess:
    """The default engine: everything in this process, all rows in one chunk (so results are
    exactly those of calling `fn` once)."""

    name = "in-process"

    def map_chunks(self, fn: Callable[[np.ndarray, Any], Any], shared: Any, rows: np.ndarray):
        return [fn(rows, shared)]

    def close(self) -> None:
        pass


def open_engine(config: PipelineConfig) -> Engine:
    """The engine `config.engine` names. The Ray engine starts or joins Ray only when it first
    has work; `close()` stops what it started."""
    if config.engine != "ray":
        return InProcess()
    try:
        from pipeline.engine.ray_engine import RayEngine
    except ImportError as exc:
        raise EngineError(
            f'engine = "ray" needs the ray package ({exc}); install it with '
            "pip install -r requirements.txt"
        ) from None
    return RayEngine(config.ray)
