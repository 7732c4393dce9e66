"""Pure pandas views of the dashboard: filters, period counts, growth, clusters, nearest papers."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest

from dashboard import transforms
from dashboard.transforms import Filters, ViewFacts
from pipeline import contract, derive
from tests.run_factory import SCRIPT_TITLE, make_run


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> contract.Run:
    folder = tmp_path_factory.mktemp("runs")
    make_run(folder, 120, seed=3)
    return contract.read_run(folder)


@pytest.fixture(scope="module")
def papers(run) -> pd.DataFrame:
    return transforms.paper_view(run.tables)


def test_paper_view_one_row_per_paper(run, papers):
    """The joined view keeps every paper once, in papers order, with its assignment and names."""
    assert papers["paper_id"].tolist() == run.papers["paper_id"].tolist()
    assert (papers["row"].to_numpy() == np.arange(len(papers))).all()
    assert (papers["cluster_id"].to_numpy() == run.assignments["cluster_id"].to_numpy()).all()
    assert (papers.loc[papers["cluster_id"] == -1, "cluster_label"] == "Unassigned").all()
    names = run.themes.set_index("theme_id")["name"]
    assert (papers["theme_name"] == papers["theme_id"].map(names)).all()


def test_filters_combine(papers):
    """Each filter restricts the papers, and filters combine with AND."""
    theme = papers["theme_id"].iloc[1]
    cluster = int(papers["cluster_id"].iloc[1])
    day = dt.date(2025, 1, 1)
    mask = transforms.filter_mask(
        papers, Filters(themes=(theme,), clusters=(cluster,), date_from=day)
    )
    expected = (
        (papers["theme_id"] == theme)
        & (papers["cluster_id"] == cluster)
        & (papers["published"] >= pd.Timestamp(day))
    )
    assert (mask == expected.to_numpy()).all()
    assert transforms.filter_mask(papers, Filters()).all()


def test_search_needs_every_word_any_field(papers):
    """Search is case-insensitive, over title/abstract/authors, and needs every word."""
    author = papers["authors"].iloc[4][0]
    by_author = transforms.search_mask(papers["search_text"], author.upper())
    assert by_author[4]
    text = (papers["title"] + " " + papers["abstract"] + " " + papers["authors_text"]).str.lower()
    words = author.lower().split()
    expected = text.map(lambda t: all(w in t for w in words)).to_numpy()
    assert (by_author == expected).all()
    both = transforms.search_mask(papers["search_text"], "data mixture")
    only_one = transforms.search_mask(papers["search_text"], "data")
    assert both.sum() <= only_one.sum()
    assert not transforms.search_mask(papers["search_text"], "zzzz-nothing").any()


def test_counts_by_period_fill_gaps_and_add_up(papers):
    """Period counts cover every period between the first and last date and sum to the papers."""
    counts = transforms.timeline_counts(papers, "month", "theme_id")
    periods = counts["period"].drop_duplicates().tolist()
    first, last = papers["published"].min(), papers["published"].max()
    assert periods[0] == f"{first:%Y-%m}" and periods[-1] == f"{last:%Y-%m}"
    assert len(periods) == (last.year - first.year) * 12 + last.month - first.month + 1
    assert counts["n_papers"].sum() == papers["published"].notna().sum()
    per_period = counts.groupby("period")["share"].sum()
    assert np.allclose(per_period[counts.groupby("period")["n_period_total"].first() > 0], 1.0)
    assert (counts["is_sparse"] == (counts["n_period_total"] < derive.SPARSE_MIN_PAPERS)).all()


def test_growth_compares_last_two_periods():
    """Growth is (last - previous) / previous over the last two periods."""
    frame = pd.DataFrame(
        {
            "published": pd.to_datetime(["2024-01-05"] * 5 + ["2024-02-05"] * 15 + ["2024-02-29"]),
            "theme_id": ["a"] * 20 + ["b"],
        }
    )
    frame["month"] = derive.period_labels(frame["published"], "month")
    growth = transforms.growth_by_group(frame, "theme_id", "month").set_index("theme_id")
    assert growth.loc["a", "n_previous"] == 5 and growth.loc["a", "n_last"] == 15
    assert growth.loc["a", "growth"] == pytest.approx(2.0)
    assert not growth.loc["a", "is_sparse"]


def test_growth_from_few_papers_is_few_papers():
    """0 -> 1, 1 -> 0 and 4 -> 9 papers give no growth ("few papers"), never +100% or -100%:
    both periods need GROWTH_MIN_PAPERS papers of the group."""
    dates = ["2024-01-05"] * (1 + 4 + 5) + ["2024-02-05"] * (1 + 9 + 5)
    groups = ["down"] + ["four"] * 4 + ["ok"] * 5 + ["up"] + ["four"] * 9 + ["ok"] * 5
    frame = pd.DataFrame({"published": pd.to_datetime(dates), "theme_id": groups})
    frame["month"] = derive.period_labels(frame["published"], "month")
    end = pd.Timestamp("2024-02-29")  # February complete
    growth = transforms.growth_by_group(frame, "theme_id", "month", data_end=end)
    growth = growth.set_index("theme_id")
    for group in ("down", "four", "up"):
        assert growth.loc[group, "is_sparse"] and pd.isna(growth.loc[group, "growth"])
        assert transforms.growth_text(growth.loc[group, "growth"]) == transforms.FEW_PAPERS
    assert transforms.growth_text(growth.loc["ok", "growth"]) == "+0%"


def test_growth_compares_the_periods_of_the_span_given():
    """With the view's span, growth compares the span's last complete periods even where the
    group has no paper (a filter never moves the compared periods back to its last match)."""
    frame = pd.DataFrame(
        {"published": pd.to_datetime(["2024-01-05"] * 6 + ["2024-02-05"] * 6), "theme_id": "a"}
    )
    frame["month"] = derive.period_labels(frame["published"], "month")
    run_dates = pd.Series(pd.to_datetime(["2024-01-01", "2024-04-30"]))
    span = derive.timeline_span(run_dates, "month")
    growth = transforms.growth_by_group(
        frame, "theme_id", "month", data_end=run_dates.max(), span=span
    ).iloc[0]
    assert (growth["previous_period"], growth["last_period"]) == ("2024-03", "2024-04")
    assert (growth["n_previous"], growth["n_last"]) == (0, 0) and pd.isna(growth["growth"])


def _quarterly(dates: list[str]) -> pd.DataFrame:
    """Papers of theme "a" on `dates`, with quarter labels."""
    frame = pd.DataFrame({"published": pd.to_datetime(dates), "theme_id": "a"})
    frame["quarter"] = derive.period_labels(frame["published"], "quarter")
    return frame


def test_growth_leaves_out_a_partial_last_quarter():
    """Data ending mid-quarter: growth compares the last two complete quarters, names them."""
    frame = _quarterly(["2026-02-10"] * 5 + ["2026-05-10"] * 10 + ["2026-08-20"] * 2)
    end = derive.latest_date(frame["published"])
    assert derive.is_partial_period("2026-Q3", "quarter", end)
    growth = transforms.growth_by_group(frame, "theme_id", "quarter").set_index("theme_id")
    rec = growth.loc["a"]
    assert (rec["previous_period"], rec["last_period"]) == ("2026-Q1", "2026-Q2")
    assert rec["partial_period"] == "2026-Q3"
    assert (rec["n_previous"], rec["n_last"]) == (5, 10)
    assert rec["growth"] == pytest.approx(1.0)
    text = transforms.growth_periods_text(growth.reset_index(), end)
    assert text == "2026-Q2 vs 2026-Q1; 2026-Q3 is partial (data ends 2026-08-20)"
    counts = transforms.timeline_counts(frame, "quarter")
    assert counts.loc[counts["is_partial"], "period"].tolist() == ["2026-Q3"]


def test_data_ending_on_a_period_last_day_is_complete():
    """A corpus ending on the last day of a quarter has no partial period."""
    frame = _quarterly(["2026-02-10"] * 4 + ["2026-05-10"] * 8 + ["2026-09-30"] * 2)
    end = derive.latest_date(frame["published"])
    assert not derive.is_partial_period("2026-Q3", "quarter", end)
    assert not transforms.timeline_counts(frame, "quarter")["is_partial"].any()
    growth = transforms.growth_by_group(frame, "theme_id", "quarter").iloc[0]
    assert (growth["previous_period"], growth["last_period"]) == ("2026-Q2", "2026-Q3")
    assert growth["partial_period"] == ""


def test_partial_period_comes_from_the_whole_run():
    """A filtered subset ending early is judged by the run's data end, not its own last date."""
    run_papers = _quarterly(["2026-02-10"] * 4 + ["2026-05-10"] * 8 + ["2026-08-20"] * 2)
    subset = run_papers[run_papers["published"] < "2026-08-01"]
    end = derive.latest_date(run_papers["published"])
    growth = transforms.growth_by_group(subset, "theme_id", "quarter", data_end=end).iloc[0]
    assert (growth["previous_period"], growth["last_period"]) == ("2026-Q1", "2026-Q2")
    assert growth["partial_period"] == ""
    own_end = transforms.growth_by_group(subset, "theme_id", "quarter").iloc[0]
    assert own_end["partial_period"] == "2026-Q2"  # why the pages pass the run's data end
    assert derive.is_partial_period("2026", "year", end)
    assert not derive.is_partial_period("2026-07", "month", end)
    assert derive.is_partial_period("2026-08", "month", end)


def test_cluster_summary_sizes(papers, run):
    """The cluster summary counts each cluster's papers and spans its dates."""
    summary = transforms.cluster_summary(papers, transforms.cluster_view(run.tables)).set_index(
        "cluster_id"
    )
    sizes = papers.groupby("cluster_id").size()
    assert (summary["n_papers"].sort_index() == sizes.sort_index()).all()
    first = papers.groupby("cluster_id")["published"].min()
    assert (summary["first"].sort_index() == first.sort_index()).all()


def test_sorted_cluster_members_put_representatives_first(papers):
    """Sorting by relevance puts the representative papers first, in their order."""
    members = papers[papers["cluster_id"] == 0]
    reps = members["paper_id"].iloc[[2, 0]].tolist()
    ordered = transforms.sorted_cluster_members(papers, 0, reps, "relevance")
    assert ordered["paper_id"].tolist()[:2] == reps
    assert set(ordered["paper_id"]) == set(members["paper_id"])
    by_date = transforms.sorted_cluster_members(papers, 0, reps, "date")
    assert by_date["published"].is_monotonic_decreasing


def test_nearest_rows_by_cosine():
    """Nearest papers are the most similar rows, best first, never the paper itself."""
    emb = derive.unit_rows(
        np.array([[1, 0], [0.9, 0.1], [0, 1], [0.5, 0.5], [1, 0.01]], dtype=float)
    )
    rows, sims = transforms.nearest_rows(emb, 0, k=2)
    assert rows.tolist() == [4, 1]
    assert sims[0] >= sims[1]
    rows, _ = transforms.nearest_rows(emb, 0, k=10)
    assert 0 not in rows and len(rows) == 4


def test_escape_markdown_neutralises_markup():
    """Escaped text has no live Markdown, HTML or LaTeX markup left."""
    escaped = transforms.escape_markdown(SCRIPT_TITLE)
    for markup in (r"<", r">", r"\*", r"\$", r"\(", r"\^"):
        assert not re.search(r"(?<!\\)" + markup, escaped), markup
    assert escaped.replace("\\", "") == SCRIPT_TITLE


def test_describe_filters_names_everything():
    """The export subtitle names every active filter with readable names."""
    facts = ViewFacts(theme_names={"rl": "RL post-training"}, cluster_labels={3: "reward models"})
    text = transforms.describe_filters(
        Filters(themes=("rl",), clusters=(3,), date_from=dt.date(2025, 1, 1), query="dpo"), facts
    )
    assert (
        "RL post-training" in text
        and "reward models" in text
        and "2025-01-01" in text
        and "dpo" in text
    )
    assert transforms.describe_filters(Filters(), facts) == "all papers"


def test_hover_text_is_html_escaped(papers):
    """Map hover text escapes paper text, because Plotly renders some HTML tags."""
    assert "<script>" not in papers["hover"].iloc[0]
    assert "&lt;script&gt;" in papers["hover"].iloc[0]


def test_outside_span_text_names_the_papers_left_out():
    """The caption counts the papers before and after the timeline with their outermost dates,
    suggests a longer period only when the span was capped, and is empty when none is left out."""
    dates = pd.Series(pd.date_range("2024-01-01", "2025-12-31", periods=200))
    far = pd.concat([dates, pd.Series(pd.to_datetime(["1000-01-01", "1948-06-01", "9999-12-31"]))])
    text = transforms.outside_span_text(derive.timeline_span(far, "quarter"))
    assert text.startswith("Not on the chart: 2 papers before 2024-Q1 (earliest 1000-01-01)")
    assert "1 paper after 2025-Q4 (latest 9999-12-31)" in text and "longer period" not in text
    assert transforms.outside_span_text(derive.timeline_span(dates, "quarter")) == ""
    spread = pd.Series(pd.date_range("1000-01-01", "9999-12-31", periods=500, unit="s"))
    capped = transforms.outside_span_text(derive.timeline_span(spread, "month"))
    assert "or a longer period" in capped


def test_paper_downloads_carry_abstracts_and_pickers_hide_minus_one(papers):
    """The CSV table of a download has the abstracts (the on-screen one does not); the
    unassigned papers are named without their -1 id; "1 paper", "2 papers"."""
    assert "abstract" not in transforms.paper_table(papers.head(2)).columns
    table = transforms.paper_table(papers.head(2), abstracts=True)
    assert table["abstract"].tolist() == papers["abstract"].head(2).tolist()
    assert transforms.cluster_name(contract.UNASSIGNED, "Unassigned") == "Unassigned"
    assert transforms.cluster_name(3, "data mixtures") == "data mixtures (#3)"
    assert transforms.n_papers_text(1) == "1 paper" and transforms.n_papers_text(2) == "2 papers"


def test_column_escaping_and_cutting_match_python_per_string():
    """`escape_html`, `escape_names` and `cut_text` (a column at a time) give what `html.escape`
    and a slice give string by string, on markup, entities, quotes, accents, combining marks,
    emoji and NUL; authors join to one string, none to ""."""
    import html

    rng = np.random.default_rng(0)
    alphabet = [*"ab&<>\"'é😀\u0301 ;.", "&amp;", "<script>", "\x00"]
    texts = ["".join(rng.choice(alphabet, size=rng.integers(0, 90)).tolist()) for _ in range(2000)]
    texts = pd.Series([*texts, "", "x" * 70, "x" * 71], dtype=object)
    assert transforms.escape_html(texts).tolist() == [html.escape(t) for t in texts]
    assert transforms.escape_names(texts).tolist() == [html.escape(t) for t in texts]
    cut = [t if len(t) <= 70 else t[:67] + "..." for t in texts]
    assert transforms.cut_text(texts, 70, "...").tolist() == cut
    authors = pd.Series([np.array(["A", "B"]), np.array([], dtype=object), ["C"]], dtype=object)
    assert transforms._authors_text(authors).tolist() == ["A; B", "", "C"]
    odd = pd.Series([[1, "x"], []], dtype=object)  # not strings: joined paper by paper
    assert transforms._authors_text(odd).tolist() == ["1; x", ""]
