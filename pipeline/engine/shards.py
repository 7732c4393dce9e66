"""Embedding shards: reads and writes Parquet files of (content-hash key, vector) that Ray's
embedding actors write, and folds them into the sqlite `EmbeddingCache`, which stays the one
source of truth the run reads. No Ray here: the files are plain Parquet."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from pipeline.embed import EmbeddingCache, cache_key
from pipeline.engine import EngineError

SHARD_GLOB = "part-*.parquet"


def shard_folder(cache_dir: str | Path, configured: str = "") -> Path:
    """Where shards go: `configured` (`ray.shard_dir`) or `<cache_dir>/shards`."""
    return Path(configured).expanduser() if configured else Path(cache_dir) / "shards"


def shard_path(folder: str | Path, keys: Sequence[bytes]) -> Path:
    """The shard file of a block of `keys`: named by a hash of the keys, so a block's shard has
    one name whoever writes it, and a retried block can see that its shard is already there."""
    name = hashlib.sha256(b"".join(bytes(k) for k in keys)).hexdigest()[:24]
    return Path(folder) / f"part-{name}.parquet"


def write_shard(folder: str | Path, keys: Sequence[bytes], vectors: np.ndarray) -> Path:
    """Write one shard: `key` (binary, 32-byte `cache_key`) and `vector` (fixed-size list of
    float32), rows aligned. Named by a hash of its keys and written to a temporary name first,
    then renamed, so a killed writer never leaves a half shard under a shard's name and the same
    block written twice (a retried task) is one file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    dim = vectors.shape[1] if vectors.ndim == 2 else 0
    table = pa.table(
        {
            "key": pa.array([bytes(k) for k in keys], type=pa.binary()),
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), dim),
        }
    )
    target = shard_path(folder, keys)
    tmp = folder / f".tmp-{target.stem}-{uuid.uuid4().hex[:8]}.parquet"
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def read_shard(path: str | Path) -> tuple[list[bytes], np.ndarray]:
    """(keys, vectors float32 (n, dim)) of one shard."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    keys = [bytes(k) for k in table.column("key").to_pylist()]
    column = table.column("vector").combine_chunks()
    dim = column.type.list_size
    vectors = np.asarray(column.flatten(), dtype=np.float32).reshape(len(keys), dim)
    return keys, vectors


def shard_paths(folder: str | Path) -> list[Path]:
    """The finished shards in `folder`, sorted by name (temporary files are not shards)."""
    folder = Path(folder)
    return sorted(folder.glob(SHARD_GLOB)) if folder.is_dir() else []


def fold_shards(folder: str | Path, cache: EmbeddingCache) -> int:
    """Move every finished shard's vectors into `cache`, deleting each shard once its rows are
    committed (a crash in between only folds it again: writes are idempotent). Returns the rows
    folded. An unreadable shard is left where it is and reported as OSError."""
    n = 0
    for path in shard_paths(folder):
        try:
            keys, vectors = read_shard(path)
        except Exception as exc:  # pyarrow raises its own types for a damaged file
            raise OSError(f"embedding shard {path} cannot be read: {exc}") from None
        if keys:
            cache.put_many(keys, vectors)
        path.unlink(missing_ok=True)
        n += len(keys)
    return n


def embed_with_shards(
    texts: Sequence[str],
    model_id: str,
    cache: EmbeddingCache,
    folder: str | Path,
    job: Callable[[dict[bytes, str]], None],
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, int]:
    """Vectors for `texts` (rows in order) and how many came from the cache, embedding the misses
    with `job` (keys -> texts; it writes shards into `folder`, e.g. a Ray Data job).

    Shards an earlier, interrupted job left are folded into `cache` first, so their texts are
    skipped; after the job (finished or not) its shards are folded too, and the vectors are read
    from the cache. Nothing is embedded twice, and the cache stays the one source of truth."""
    keys = [cache_key(model_id, t) for t in texts]
    if not keys:
        return np.zeros((0, 0), dtype=np.float32), 0
    fold_shards(folder, cache)
    found = cache.get_many(keys)
    n_hit = sum(key in found for key in keys)
    if progress is not None and n_hit:
        progress(n_hit)
    missing: dict[bytes, str] = {}
    for key, text in zip(keys, texts, strict=True):
        if key not in found:
            missing.setdefault(key, text)
    if missing:
        try:
            job(missing)
        finally:
            fold_shards(folder, cache)
        found.update(cache.get_many(list(missing)))
        lost = [key for key in missing if key not in found]
        if lost:
            raise EngineError(f"the embedding job left {len(lost)} of {len(missing)} texts out")
    return np.stack([found[k] for k in keys]).astype(np.float32, copy=False), n_hit
