"""AppTest checks of the dashboard frame and its pages against synthetic runs."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import state
from pipeline import contract
from tests.dashboard.apptest_helpers import APP, PAGES, ROOT, trace_array
from tests.run_factory import SCRIPT_TITLE, make_incompatible_run, make_run


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("runs")
    make_run(folder, 75, seed=0)
    return folder


@pytest.fixture
def app(runs, monkeypatch):
    monkeypatch.setenv("RTE_RUNS_DIR", str(runs))

    def start(page: str | None = None, **params) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=60)
        for name, value in params.items():
            at.query_params[name] = value
        if page:
            at.switch_page(page)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return start


def run_tables(runs: Path) -> contract.Run:
    return contract.read_run(runs)


def figure(at: AppTest, index: int = 0) -> dict:
    return json.loads(at.get("plotly_chart")[index].proto.spec)


def point_count(fig: dict, skip=("filtered out", "cluster labels", "chosen paper")) -> int:
    return sum(
        len(t.get("customdata", {}).get("bdata", "")) and _n(t)
        for t in fig["data"]
        if t.get("name") not in skip
    )


def _n(trace: dict) -> int:
    x = trace["x"]
    if isinstance(x, dict):  # plotly's base64 typed array
        import base64

        import numpy as np

        return len(np.frombuffer(base64.b64decode(x["bdata"]), dtype=x["dtype"]))
    return len(x)


def all_markdown(at: AppTest) -> list[str]:
    values = [m.value for m in at.markdown] + [c.value for c in at.caption]
    values += (
        [h.value for h in at.header] + [s.value for s in at.subheader] + [t.value for t in at.title]
    )
    values += [e.label for e in at.expander]
    return values


def test_no_run_shows_what_to_run(tmp_path, monkeypatch):
    """An empty runs folder gives a friendly page naming the command to run, not a traceback."""
    monkeypatch.setenv("RTE_RUNS_DIR", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert any("python -m pipeline run" in c.value for c in at.code)
    assert any("no run" in t.value.lower() for t in at.text)


def test_incompatible_run_explains_schema(tmp_path, monkeypatch):
    """A run written by another schema version gives a clear message, not a traceback."""
    make_incompatible_run(tmp_path)
    monkeypatch.setenv("RTE_RUNS_DIR", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert any("schema version" in t.value for t in at.text)


@pytest.mark.parametrize("recommended", [True, False])
def test_added_run_shows_rerun_advice_only_when_recommended(tmp_path, monkeypatch, recommended):
    """A run made by `pipeline add` whose added papers mostly fit no cluster shows a one-line
    notice recommending a full re-run; one where they fit shows none."""
    run_id = make_run(tmp_path, 60, seed=0, n_clusters=5, run_id="r2")
    path = tmp_path / run_id / contract.MANIFEST
    manifest = json.loads(path.read_text())
    share = 0.25 if recommended else 0.0
    manifest["parent_run_id"] = "r1"
    manifest["addition"] = {
        "n_added": 20,
        "n_already_in_run": 0,
        "n_unassigned": int(20 * share),
        "unassigned_share": share,
        "rerun_share": 0.05,
        "is_rerun_recommended": recommended,
    }
    path.write_text(json.dumps(manifest))
    monkeypatch.setenv("RTE_RUNS_DIR", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    notices = [i.value for i in at.info if "full re-run" in i.value]
    assert len(notices) == (1 if recommended else 0)
    if recommended:
        assert "5 of the 20 papers added to run r1" in notices[0]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders(app, page):
    """Each page renders against a run without an exception and shows its title."""
    at = app(page)
    assert at.title and at.title[0].value
    assert at.sidebar.selectbox[0].value == "run-75-seed0"


def test_search_filter_changes_overview(app, runs):
    """Typing a search in the sidebar narrows the papers counted on the Overview."""
    at = app()
    assert at.metric[0].value == "75"
    at.sidebar.text_input[0].input("mixture").run()
    papers = run_tables(runs).papers
    expected = papers["title"].str.lower().str.contains("mixture") | papers[
        "abstract"
    ].str.lower().str.contains("mixture")
    assert at.metric[0].value == str(int(expected.sum()))
    assert int(expected.sum()) < 75
    assert at.query_params["q"] in ("mixture", ["mixture"])


def test_theme_filter_changes_map(app, runs):
    """Choosing a theme keeps only that theme's papers in colour on the map; the rest are faint."""
    at = app("app_pages/map.py")
    before = figure(at)
    assert point_count(before) == 75
    at.sidebar.multiselect[0].select("control").run()
    after = figure(at)
    assign = run_tables(runs).assignments
    assert point_count(after) == int((assign["theme_id"] == "control").sum())
    names = {t.get("name") for t in after["data"]}
    assert "filtered out" in names and "Pretraining data" not in names


def test_query_params_restore_view(app, runs):
    """A URL's query parameters restore filters and page settings on a fresh session."""
    at = app("app_pages/map.py", themes=["rl-post-training"], color="cluster", q="study")
    assert at.sidebar.multiselect[0].value == ["rl-post-training"]
    assert at.sidebar.text_input[0].value == "study"
    fig = figure(at)
    coloured = [t for t in fig["data"] if t.get("legendgroup") == "papers"]
    assert coloured and all(not t["showlegend"] for t in coloured)  # colour per cluster, no legend
    assign = run_tables(runs).assignments
    assert point_count(fig) == int((assign["theme_id"] == "rl-post-training").sum())
    assert at.query_params["color"] in ("cluster", ["cluster"])


def test_link_to_view_carries_state(app):
    """The sidebar's 'copy link to this view' holds the current filters."""
    at = app("app_pages/timelines.py")
    at.sidebar.text_input[0].input("policy").run()
    links = [c.value for c in at.sidebar.code]
    assert any("q=policy" in link and "run=run-75-seed0" in link for link in links)


def test_overview_path_opens_the_overview_with_its_query(app):
    """The hidden page at /overview opens the Overview (served at the root URL), keeping the
    link's query; the Overview's link to the view points at the root, not /overview."""
    at = app("app_pages/timelines.py")
    at.query_params["q"] = "policy"
    at.switch_page("app_pages/overview_alias.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.title] == ["Overview"]
    assert at.sidebar.text_input[0].value == "policy"
    links = [c.value for c in at.sidebar.code]
    assert links and all("/overview" not in link and "q=policy" in link for link in links)


def test_cluster_page_lists_exactly_its_papers(app, runs):
    """A cluster's page lists exactly the papers assigned to that cluster."""
    run = run_tables(runs)
    cluster_id = 2
    at = app("app_pages/clusters.py", cluster="2")
    assert (
        at.header[0].value.replace("\\", "")
        == run.clusters.set_index("cluster_id").loc[cluster_id, "label"]
    )
    tables = [d.value for d in at.dataframe]
    listed = next(t for t in tables if "paper_id" in t.columns and "title" in t.columns)
    expected = set(run.assignments.loc[run.assignments["cluster_id"] == cluster_id, "paper_id"])
    assert set(listed["paper_id"]) == expected
    assert len(listed) == len(expected)


def test_cluster_table_lists_every_cluster(app, runs):
    """The Clusters table has one row per cluster and the finder narrows it."""
    at = app("app_pages/clusters.py")
    table = at.dataframe[0].value
    assert set(table["cluster_id"]) == set(run_tables(runs).clusters["cluster_id"])
    at.text_input(key=state.widget_key(state.CLUSTER_SEARCH)).input("toxicity").run()
    narrowed = at.dataframe[0].value
    assert 0 < len(narrowed) < len(table)
    assert all("toxicity" in (r.label + r.keywords_text) for r in narrowed.itertuples())


def test_script_title_is_text(app, runs):
    """A title with <script>, Markdown and LaTeX is escaped wherever it is written as Markdown."""
    at = app("app_pages/map.py", paper="arxiv:2501.00000")
    texts = all_markdown(at)
    shown = [t for t in texts if "alert" in t]
    assert shown, "the paper detail shows the title"
    for value in shown:
        assert "<script>" not in value and "**bold**" not in value and "$x^2$" not in value
        assert value.endswith(r"\<script\>alert\(1\)\</script\> \*\*bold\*\* \$x\^2\$")
    hover = " ".join(str(t.get("hovertext")) for t in figure(at)["data"])
    assert "<script>" not in hover and "&lt;script&gt;" in hover


def test_script_title_in_cluster_page(app, runs):
    """On its cluster's page the unsafe title appears verbatim in the table, escaped elsewhere."""
    run = run_tables(runs)
    cid = int(run.assignments.loc[0, "cluster_id"])
    at = app("app_pages/clusters.py", cluster=str(cid))
    listed = next(d.value for d in at.dataframe if "paper_id" in d.value.columns)
    assert SCRIPT_TITLE in set(listed["title"])
    assert not any("<script>" in t for t in all_markdown(at))


def test_timelines_period_lists_papers(app, runs):
    """Choosing a theme and a period lists exactly the papers of that theme in that period."""
    run = run_tables(runs)
    joined = run.assignments.assign(published=run.papers["published"])
    joined["quarter"] = (
        joined["published"].dt.year.astype(str) + "-Q" + joined["published"].dt.quarter.astype(str)
    )
    theme, quarter = joined.groupby(["theme_id", "quarter"]).size().idxmax()
    at = app("app_pages/timelines.py", group=theme, at=quarter)
    listed = next(d.value for d in at.dataframe if "paper_id" in d.value.columns)
    expected = set(
        joined.loc[(joined["theme_id"] == theme) & (joined["quarter"] == quarter), "paper_id"]
    )
    assert set(listed["paper_id"]) == expected


def test_timelines_switch_to_clusters_within_theme(app, runs):
    """Showing the clusters inside one theme draws one line per cluster of that theme."""
    at = app("app_pages/timelines.py", within="control", period="year", other="True")
    fig = figure(at)
    assign = run_tables(runs).assignments
    clusters = assign.loc[assign["theme_id"] == "control", "cluster_id"].unique()
    assert len(fig["data"]) == len(clusters)
    at.selectbox(key=state.widget_key(state.TL_WITHIN)).set_value("").run()
    assert len(figure(at)["data"]) == assign["theme_id"].nunique()


def test_timeline_title_names_the_measure(app):
    """With Measure = share the chart heading (and so the export title) says it shows shares."""
    at = app("app_pages/timelines.py", measure="share")
    assert "Share of papers per theme by quarter" in [h.value for h in at.subheader]
    at = app("app_pages/timelines.py")
    assert "Papers per theme by quarter" in [h.value for h in at.subheader]


def test_unknown_settings_in_a_link_fall_back_to_the_defaults(app):
    """A link with values no control offers shows the defaults and drops them from the URL."""
    at = app("app_pages/timelines.py", period="decade", measure="bogus", style="3d", counts="x")
    assert "Papers per theme by quarter" in [h.value for h in at.subheader]
    assert [c.value for c in at.get("button_group")] == ["quarter", "n_papers", "lines", "papers"]
    assert not {"period", "measure", "style", "counts"} & set(at.query_params)


def test_timelines_show_expected_counts_with_a_band(app, runs):
    """With counts=expected, each theme line gets a dashed expected line whose values are the
    sums of the papers' theme probabilities, inside a band, and the title says so."""
    at = app("app_pages/timelines.py", counts="expected", period="year", other="True")
    title = "Papers per theme, with expected papers (95% band) by year"
    assert title in [h.value.replace("\\", "") for h in at.subheader]
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    dashed = [t for t in spec["data"] if t.get("line", {}).get("dash") == "dash"]
    bands = [t for t in spec["data"] if t.get("fill") == "toself"]
    run = run_tables(runs)
    themes = run.themes["theme_id"].tolist()
    assert len(dashed) == len(bands) == len(set(run.assignments["theme_id"]))
    probabilities = run.theme_prior()  # the factory's runs have no labels: prior softmax
    from pipeline.themes.model import softmax

    expected_total = softmax(probabilities).sum(axis=0)
    drawn = {t["name"].removesuffix(" (expected)"): trace_array(t["y"]).sum() for t in dashed}
    names = dict(zip(run.themes["theme_id"], run.themes["name"], strict=True))
    dated = run.papers["published"].notna().to_numpy()
    expected_dated = softmax(probabilities[dated]).sum(axis=0)
    for j, theme in enumerate(themes):
        if names[theme] in drawn:
            assert drawn[names[theme]] == pytest.approx(expected_dated[j], rel=1e-4)
    assert expected_total.sum() == pytest.approx(len(run.papers))


def test_overview_links_to_clusters(app, runs):
    """The Overview links the largest cluster to its cluster page and each theme to its
    timeline."""
    at = app()
    links = {(link.proto.page, link.proto.query_string) for link in at.get("page_link")}
    assign = run_tables(runs).assignments
    largest = assign.loc[assign["cluster_id"] >= 0, "cluster_id"].value_counts().index[0]
    assert ("clusters", f"cluster={largest}") in links
    assert ("timelines", "within=control") in links


def test_pages_list_every_page_file():
    """PAGES (rendered by the tests here, import hygiene included) names every page file."""
    files = {f"app_pages/{p.name}" for p in (ROOT / "dashboard" / "app_pages").glob("*.py")}
    assert set(PAGES) == files - {"app_pages/overview_alias.py"}


def test_dashboard_never_imports_torch(runs):
    """Rendering every page imports pipeline.contract but never torch, UMAP, BERTopic or
    sentence-transformers (checked in a fresh interpreter)."""
    code = f"""
import os, sys
sys.path.insert(0, {str(ROOT)!r})
os.environ["RTE_RUNS_DIR"] = {str(runs)!r}
from streamlit.testing.v1 import AppTest
at = AppTest.from_file({APP!r}, default_timeout=60)
at.run()
for page in {PAGES!r}:
    at.switch_page(page); at.run()
    assert not at.exception, at.exception
heavy = ("torch", "umap", "bertopic", "sentence_transformers", "hdbscan")
bad = [m for m in heavy if m in sys.modules]
print("BAD", bad, "contract" , "pipeline.contract" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "BAD [] contract True" in out.stdout


def test_date_filter_restricts_papers(app, runs):
    """A date range in the sidebar keeps only the papers published inside it."""
    at = app()
    at.sidebar.date_input[0].set_value(dt.date(2025, 1, 1)).run()
    published = run_tables(runs).papers["published"]
    assert at.metric[0].value == str(int((published >= "2025-01-01").sum()))
    assert at.query_params["from"] in ("2025-01-01", ["2025-01-01"])


def test_export_without_chromium_says_how_to_install(app, monkeypatch):
    """Without Chromium the export menu explains how to install it instead of offering PNG/SVG."""
    from dashboard import exports

    monkeypatch.setattr(exports, "chromium_path", lambda: None)
    at = app("app_pages/timelines.py")
    assert any("apt-get install -y chromium" in i.value for i in at.info)


def test_theme_filter_changes_timelines_and_clusters(app, runs):
    """A theme filter leaves one timeline line and only clusters holding that theme's papers."""
    assign = run_tables(runs).assignments
    at = app("app_pages/timelines.py", themes=["control"])
    assert [t["name"] for t in figure(at)["data"]] == ["Control"]
    at = app("app_pages/clusters.py", themes=["control"])
    table = at.dataframe[0].value
    expected = assign.loc[assign["theme_id"] == "control"].groupby("cluster_id").size()
    assert dict(zip(table["cluster_id"], table["n_papers"], strict=True)) == expected.to_dict()


def _quarter(period: pd.Period) -> str:
    return f"{period.year}-Q{period.quarter}"


def test_partial_last_quarter_is_named_and_left_out_of_growth(tmp_path, monkeypatch):
    """Data ending mid-quarter: Overview and Clusters name the two complete quarters compared,
    and Timelines marks and captions the partial one."""
    make_run(tmp_path, 60, seed=5, start="2025-01-01", end="2026-08-20")
    published = pd.to_datetime(contract.read_run(tmp_path).papers["published"])
    data_end = published.max().normalize()
    end_quarter = data_end.to_period("Q")
    assert data_end < end_quarter.end_time.normalize()  # the run really stops mid-quarter
    compared = (
        f"{_quarter(end_quarter - 1)} vs {_quarter(end_quarter - 2)}; "
        f"{_quarter(end_quarter)} is partial (data ends {data_end:%Y-%m-%d})"
    )
    monkeypatch.setenv("RTE_RUNS_DIR", str(tmp_path))
    for page in ("app_pages/overview.py", "app_pages/clusters.py"):
        at = AppTest.from_file(APP, default_timeout=60)
        at.switch_page(page)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert any(compared in c.value for c in at.caption), [c.value for c in at.caption]
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("app_pages/timelines.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shapes = figure(at)["layout"].get("shapes", [])
    assert [s for s in shapes if s.get("name") == "partial period"]
    assert any(f"{_quarter(end_quarter)} is a partial period" in c.value for c in at.caption)
