"""Config validation: every bad value is one line naming the key, the value and what is allowed,
refused before any work, whether it comes from a TOML file, code or `--seed`."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from pipeline.config import ConfigError, PipelineConfig, config_from_dict, load_config
from tests.conftest import ROOT

BAD_VALUES = [
    ({"cluster": {"min_cluster_size": -1}}, "cluster.min_cluster_size = -1"),
    ({"embed": {"batch_size": -1}}, "embed.batch_size = -1"),
    ({"embed": {"max_tokens": 8}}, "embed.max_tokens = 8"),
    ({"embed": {"max_tokens": 1024}}, "embed.max_tokens = 1024"),
    ({"embed": {"device": "gpu"}}, "embed.device = 'gpu'"),
    ({"layout": {"metric": "nonsense"}}, "layout.metric = 'nonsense'"),
    ({"seed": -1}, "seed = -1"),
    ({"seed": 2**32}, "seed = 4294967296"),
    ({"cluster": {"min_papers": 0}}, "cluster.min_papers = 0"),
    ({"cluster": {"mmr_diversity": 7.5}}, "cluster.mmr_diversity = 7.5"),
    ({"cluster": {"n_keywords": -2}}, "cluster.n_keywords = -2"),
    ({"themes": {"min_score": float("nan")}}, "themes.min_score = nan"),
    ({"themes": {"title_weight": float("inf")}}, "themes.title_weight = inf"),
    ({"layout": {"min_dist": 3.0}}, "layout.min_dist = 3.0"),
    ({"embed": {"model": "/no/such/model"}}, "embed.model = '/no/such/model'"),
    ({"cluster": {"fit_sample": -2}}, "cluster.fit_sample = -2"),
    ({"cluster": {"fit_sample": 50}}, "cluster.fit_sample = 50"),
]


@pytest.mark.parametrize(("data", "named"), BAD_VALUES)
def test_bad_value_names_key_value_and_what_is_allowed(data, named):
    """A value out of range raises ConfigError naming `key = value` and what is allowed."""
    with pytest.raises(ConfigError) as err:
        config_from_dict(data)
    message = str(err.value)
    assert message.startswith(named), message
    assert "must be" in message and "\n" not in message


def test_defaults_are_valid_and_replace_is_validated():
    """The defaults pass, and `dataclasses.replace` (as `--seed` uses) is validated too."""
    config = PipelineConfig()
    assert dataclasses.replace(config, seed=7).seed == 7
    with pytest.raises(ConfigError, match="seed = -5"):
        dataclasses.replace(config, seed=-5)


def test_fit_sample_accepts_derived_all_and_sizes():
    """`cluster.fit_sample` takes 0 (derived), -1 (all papers) and sizes from 100 up."""
    for value in (0, -1, 100, 20_000):
        assert config_from_dict({"cluster": {"fit_sample": value}}).cluster.fit_sample == value


def test_embed_speed_options_are_accepted():
    """The fast model, a 128-token window, each named device and batch size 0 (by device) pass."""
    for device in ("auto", "cpu", "cuda", "cuda:1", "mps"):
        config = config_from_dict(
            {"embed": {"model": "fast", "max_tokens": 128, "device": device, "batch_size": 0}}
        )
        assert config.embed.device == device


def test_cache_dir_that_is_a_file_is_refused(tmp_path):
    """A cache folder that is an existing file is refused, naming it."""
    path = tmp_path / "cache"
    path.write_text("not a folder")
    with pytest.raises(ConfigError, match="embed.cache_dir .*is a file"):
        config_from_dict({"embed": {"cache_dir": str(path)}})


@pytest.mark.parametrize("kind", ["folder", "latin1"])
def test_unreadable_config_file_is_one_line(tmp_path, kind):
    """--config pointing at a folder or at a non-UTF-8 file gives one readable line."""
    path = tmp_path / "config"
    if kind == "folder":
        path.mkdir()
    else:
        path.write_bytes("seed = 1 # caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert ("folder" if kind == "folder" else "UTF-8") in str(err.value)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--seed", "-1"], "seed = -1"),
        (["--config", "CONFIG"], "cluster.min_cluster_size = -1"),
    ],
)
def test_cli_refuses_bad_config_before_any_work(tmp_path, args, expected):
    """`pipeline run` with a bad value exits 2 with one stderr line, before reading input."""
    config = tmp_path / "bad.toml"
    config.write_text("[cluster]\nmin_cluster_size = -1\n")
    args = [str(config) if a == "CONFIG" else a for a in args]
    missing_input = tmp_path / "does-not-exist.csv"  # never read: the config fails first
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline",
            "run",
            str(missing_input),
            *args,
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], proc.stderr
