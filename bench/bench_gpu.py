"""GPU embedding throughput: MiniLM (all-MiniLM-L6-v2) with sentence-transformers on a CUDA
device, abstracts/s by precision (fp32, tf32, fp16, bf16) and batch size, the lowest cosine of
each precision's vectors to fp32's, and the time the tokenizer alone takes (one CPU thread).

Runs where the GPU is, with the model folder and texts copied there (nothing is downloaded):

    python bench/bench_gpu.py bench MODEL_DIR TEXTS.jsonl.xz [--n 20000] [--out DIR]
    python bench/bench_gpu.py embed MODEL_DIR TEXTS.jsonl.xz [--tokens 256] [--out DIR]

TEXTS is one JSON string per line (the pipeline's `paper_text` of each paper, xz-compressed).
`embed` writes the fp32 vectors as float16 `.npy` shards; `pipeline.embed.EmbeddingCache` takes
them under the model id, so a CPU run reads them as a warm cache.
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

DTYPES = ("fp32", "tf32", "fp16", "bf16")
BATCHES = (64, 256, 1024)


def _model(folder: str, dtype: str, tokens: int):
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(folder, device="cuda")
    model = {"fp16": model.half, "bf16": lambda: model.to(torch.bfloat16)}.get(dtype, model.float)()
    model.max_seq_length = tokens
    return model


def _encode(model, texts: list[str], batch: int) -> np.ndarray:
    import torch

    vectors = model.encode(
        texts,
        batch_size=batch,
        convert_to_numpy=True,
        normalize_embeddings=True,
        show_progress_bar=False,
    )
    torch.cuda.synchronize()
    return np.asarray(vectors, dtype=np.float32)


def bench(folder: str, texts: list[str], tokens: int) -> dict:
    import torch

    rows, reference = [], None
    for dtype in DTYPES:
        torch.backends.cuda.matmul.allow_tf32 = dtype == "tf32"
        model = _model(folder, dtype, tokens)
        _encode(model, texts[:1024], 256)  # warm-up: kernels, allocator
        for batch in BATCHES:
            started = time.perf_counter()
            vectors = _encode(model, texts, batch)
            seconds = time.perf_counter() - started
            reference = vectors if reference is None else reference
            rows.append(
                {
                    "dtype": dtype,
                    "batch": batch,
                    "n": len(texts),
                    "seconds": round(seconds, 2),
                    "per_s": round(len(texts) / seconds, 1),
                    "min_cos_to_fp32": round(float(np.min(np.sum(reference * vectors, axis=1))), 5),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    started = time.perf_counter()
    model.tokenize(texts)
    return {
        "rows": rows,
        "tokenize_s": time.perf_counter() - started,
        "gpu": torch.cuda.get_device_name(0),
        "cpu_count": os.cpu_count(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("bench", "embed"))
    parser.add_argument("model_dir")
    parser.add_argument("texts")
    parser.add_argument("--n", type=int, default=20_000, help="texts timed by `bench`")
    parser.add_argument("--tokens", type=int, default=256, help="token window")
    parser.add_argument("--out", default=os.environ.get("OUT", "."))
    args = parser.parse_args()
    texts = [json.loads(line) for line in lzma.open(args.texts, "rt")]
    out = Path(args.out)
    if args.mode == "bench":
        result = bench(args.model_dir, texts[: args.n], args.tokens)
        (out / "gpu_bench.json").write_text(json.dumps(result, indent=1))
        return 0
    started = time.perf_counter()
    vectors = _encode(_model(args.model_dir, "fp32", args.tokens), texts, 256)
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {"n": len(texts), "seconds": round(seconds, 1), "per_s": round(len(texts) / seconds, 1)}
        )
    )
    for i, part in enumerate(
        np.array_split(vectors.astype(np.float16), max(1, len(texts) // 20_000))
    ):
        np.save(out / f"vectors_{i:02d}.npy", part)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
