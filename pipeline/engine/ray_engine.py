"""The Ray engine: reads `[ray]` (start Ray here or join a cluster), the papers' texts and an
embedder spec; produces embeddings through a Ray Data job (an actor pool, one model per actor,
vectors written as Parquet shards keyed by the cache's content hash, folded into the sqlite
cache) and runs chunks of per-paper work (cluster assignment, map placement) as Ray tasks."""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# Before Ray is imported: no usage report leaves the machine.
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import numpy as np  # noqa: E402
import ray  # noqa: E402
import ray.data  # noqa: E402

from pipeline.config import EmbedConfig, RayConfig  # noqa: E402
from pipeline.embed import (  # noqa: E402
    EmbedderSpec,
    EmbeddingCache,
    EmbedResult,
    embedder_of,
    paper_text,
)
from pipeline.engine import EngineError  # noqa: E402
from pipeline.engine.shards import (  # noqa: E402
    embed_with_shards,
    shard_folder,
    shard_path,
    write_shard,
)
from pipeline.records import Paper  # noqa: E402

# The folder holding the `pipeline` package: Ray's workers import it (and `tests.*` embedder
# specs) from there; on a cluster every node needs the project at this same path.
PROJECT_ROOT = str(Path(__file__).resolve().parents[2])


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast (EngineError) when nothing listens at a HOST:PORT or ray://HOST:PORT address:
    Ray itself retries an unreachable head for minutes. "auto" is left to Ray."""
    import socket

    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise EngineError(f"cannot reach the Ray cluster at {address}: {reason}") from None


def start_ray(
    address: str = "",
    num_cpus: int = 0,
    temp_dir: str | None = None,
    object_store_memory: int | None = None,
) -> None:
    """Start Ray on this machine (`address` empty; `num_cpus` 0 = all) or join the cluster at
    `address`; quietly, no dashboard, nothing sent anywhere. Raises EngineError when it cannot."""
    kwargs: dict[str, Any] = {
        "log_to_driver": False,
        "logging_level": logging.WARNING,
        "job_config": ray.job_config.JobConfig(code_search_path=[PROJECT_ROOT, os.getcwd()]),
    }
    if address:
        check_reachable(address)
        kwargs["address"] = address
    else:
        kwargs.update(
            address="local",
            num_cpus=num_cpus or None,
            include_dashboard=False,
            _temp_dir=temp_dir,
            object_store_memory=object_store_memory,
        )
    try:
        ray.init(**kwargs)
    except (ConnectionError, TimeoutError, ValueError, RuntimeError) as exc:
        where = f"the Ray cluster at {address}" if address else "Ray on this machine"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EngineError(f"cannot start or reach {where}: {first}") from None
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    # A failed job is reported once, by the run, as one line.
    logging.getLogger("ray.data").setLevel(logging.CRITICAL)


# Embedding actors per GPU by default: the tokeniser runs on one CPU core per actor and feeds a
# GPU too slowly alone. Measured on one H200 (README, "Beyond one machine"): 1 actor 2,166
# abstracts/s, 2 actors 3,790, 4 actors 6,048, 8 actors 6,245.
ACTORS_PER_GPU = 4


def embed_actor_count(configured: int, gpus: float, cpus: float, blocks: int) -> tuple[int, float]:
    """(actors, GPU share of each) for the embedding job: `configured` actors, or by default
    `ACTORS_PER_GPU` per GPU (no more than the CPUs, one each) when the cluster has GPUs, else
    one per CPU; never more actors than blocks. Actors share the GPUs equally."""
    if configured:
        actors = configured
    elif gpus >= 1:
        actors = max(int(gpus), min(int(gpus * ACTORS_PER_GPU), int(cpus)))
    else:
        actors = int(max(cpus, 1))
    actors = max(1, min(actors, blocks))
    return actors, (min(1.0, gpus / actors) if gpus >= 1 else 0.0)


class EmbedActor:
    """One Ray Data actor: builds its own embedder from the spec once, then per block of texts
    encodes them and writes one shard; returns how many texts it embedded (for progress). A
    block whose shard is already there (its task retried after a worker died between writing
    the shard and returning) is not encoded again."""

    def __init__(self, spec: EmbedderSpec, batch_size: int, folder: str):
        self.embedder = embedder_of(spec)
        self.batch_size = batch_size
        self.folder = folder

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        keys = [bytes(k) for k in batch["key"]]
        if shard_path(self.folder, keys).exists():
            return {"n_embedded": np.array([len(keys)], dtype=np.int64)}
        vectors = self.embedder.encode([str(t) for t in batch["text"]], self.batch_size)
        write_shard(self.folder, keys, vectors)
        return {"n_embedded": np.array([len(keys)], dtype=np.int64)}


# A line of a Python traceback naming an exception: "RuntimeError: planted failure".
_ERROR_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit)): (.*)$", re.M)


def root_cause(exc: BaseException) -> str:
    """`Type: message` of the user code's own error inside what Ray raised: Ray Data keeps it
    only in the traceback text it carries (the first exception line not Ray's own)."""
    for name, message in _ERROR_LINE.findall(str(exc)):
        if not name.startswith("ray."):
            return f"{name.rsplit('.', 1)[-1]}: {message.strip()}"
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[-1] if lines else ''}"


def _apply(fn: Callable[[np.ndarray, Any], Any], shared: Any, rows: np.ndarray) -> Any:
    return fn(rows, shared)


class RayEngine:
    """The "ray" engine (`config.engine = "ray"`). Starts or joins Ray on first use, unless this
    process already has Ray running (then uses it and leaves it running; an `address` naming
    another cluster than that one is refused, not silently ignored)."""

    name = "ray"

    def __init__(self, config: RayConfig):
        self.config = config
        self._started = False

    def _ensure(self) -> None:
        if ray.is_initialized():
            wanted = self.config.address.removeprefix("ray://")
            current = ray.get_runtime_context().gcs_address or ""
            if wanted and wanted != "auto" and current and wanted != current:
                raise EngineError(
                    f"this process already uses the Ray cluster at {current}, not "
                    f"{self.config.address}: call ray.shutdown() first, or leave the address empty"
                )
            return
        start_ray(self.config.address, self.config.num_cpus)
        self._started = True

    def close(self) -> None:
        if self._started:
            ray.shutdown()
            self._started = False

    def resources(self) -> dict[str, float]:
        """The cluster's total CPUs and GPUs (starting Ray if needed)."""
        self._ensure()
        total = ray.cluster_resources()
        return {"CPU": float(total.get("CPU", 0)), "GPU": float(total.get("GPU", 0))}

    def embed_papers(
        self,
        papers: Sequence[Paper],
        spec: EmbedderSpec,
        config: EmbedConfig,
        progress: Callable[[int], None] | None = None,
    ) -> EmbedResult:
        """Embed every paper (title + abstract) as `pipeline.embed.embed_papers` does, the
        cache misses on Ray (`embed_with_shards` + `run_embed_job`)."""
        model_id = embedder_of(spec).model_id  # embedders load nothing until they encode
        folder = shard_folder(config.cache_dir, self.config.shard_dir)
        cache = EmbeddingCache(config.cache_dir)

        def job(missing: dict[bytes, str]) -> None:
            self._ensure()
            self.run_embed_job(missing, spec, config.batch_size, folder, progress)

        try:
            vectors, n_hit = embed_with_shards(
                [paper_text(p) for p in papers], model_id, cache, folder, job, progress
            )
        finally:
            cache.close()
        return EmbedResult(vectors, model_id, n_cached=n_hit, n_embedded=len(papers) - n_hit)

    def run_embed_job(
        self,
        missing: dict[bytes, str],
        spec: EmbedderSpec,
        batch_size: int,
        folder: Path,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """The Ray Data job: blocks of `embed_block` texts -> `map_batches` over an actor pool
        (one model per actor; `embed_actor_count` says how many and what share of a GPU each
        takes) -> one shard per block.
        Ray Data restarts a dead actor and retries its block; a block that raises fails the job
        (EngineError), keeping the shards already written."""
        import pyarrow as pa

        block = self.config.embed_block
        keys = list(missing)
        table = pa.table({"key": pa.array(keys, pa.binary()), "text": list(missing.values())})
        blocks = [table.slice(start, block) for start in range(0, len(keys), block)]
        resources = self.resources()
        actors, gpu_share = embed_actor_count(
            self.config.embed_actors, resources["GPU"], resources["CPU"], len(blocks)
        )
        dataset = ray.data.from_arrow(blocks).map_batches(
            EmbedActor,
            fn_constructor_kwargs={"spec": spec, "batch_size": batch_size, "folder": str(folder)},
            batch_size=block,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=1,
            num_gpus=gpu_share,
        )
        try:
            for out in dataset.iter_batches(batch_size=None, batch_format="numpy"):
                if progress is not None:
                    progress(int(out["n_embedded"].sum()))
        except ray.exceptions.RayError as exc:
            raise EngineError(f"the Ray embedding job failed: {root_cause(exc)}") from exc

    def map_chunks(self, fn: Callable[[np.ndarray, Any], Any], shared: Any, rows: np.ndarray):
        """`[fn(chunk, shared) ...]` over row chunks, in order, as Ray tasks: `shared` (fitted
        models) is put in the object store once; chunks hold at most `assign_chunk` rows and
        are at least as many as the cluster's CPUs."""
        if len(rows) == 0:
            return [fn(rows, shared)]
        cpus = max(1, int(self.resources()["CPU"]))
        size = max(1, min(self.config.assign_chunk, math.ceil(len(rows) / cpus)))
        task = ray.remote(num_cpus=1)(_apply)
        shared_ref = ray.put(shared)
        futures = [
            task.remote(fn, shared_ref, rows[start : start + size])
            for start in range(0, len(rows), size)
        ]
        try:
            return ray.get(futures)
        except ray.exceptions.RayError as exc:
            raise EngineError(f"a Ray task failed: {root_cause(exc)}") from exc
