"""What the AppTest modules share: the app's entry script, its pages, a small run (the one the
Review and Presenter flows use) that the app is pointed at through the environment, and opening
a page."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import state
from tests.run_factory import make_run

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboard" / "app.py")
PAGES = [
    "app_pages/overview.py",
    "app_pages/map.py",
    "app_pages/timelines.py",
    "app_pages/clusters.py",
    "app_pages/review.py",
    "app_pages/presenter.py",
    "app_pages/compare.py",
    "app_pages/new_run.py",
]


def use_small_run(folder: Path, monkeypatch: pytest.MonkeyPatch, **kwargs) -> Path:
    """Write run `r1` (60 papers, 5 clusters; `kwargs` go to `make_run`) into `folder` and point
    the app at it, with the review store at its default place (review.sqlite beside `folder`)."""
    make_run(folder, 60, seed=0, n_clusters=5, run_id="r1", **kwargs)
    monkeypatch.setenv("RTE_RUNS_DIR", str(folder))
    monkeypatch.delenv("RTE_REVIEW_DB", raising=False)
    return folder


def open_page(page: str, *, reviewer: str | None = None, timeout: float = 60, **params) -> AppTest:
    """Run the app on `page` with URL `params`, give the reviewer name when asked, and check
    that nothing raised."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    for name, value in params.items():
        at.query_params[name] = value
    at.switch_page(page)
    at.run()
    if reviewer:
        at.text_input(key=state.REVIEWER).input(reviewer).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def trace_array(value) -> np.ndarray:
    """A trace array from a figure's dict or a chart spec: a plain list or Plotly's base64
    typed array."""
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
    return np.asarray(value)
