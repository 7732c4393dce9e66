"""The dashboard frame around every page: the run picker, the run's facts, the global filters,
the link to the view and the no-run page (sidebar pieces), the review-store banner, and the
`ViewContext` it hands to the pages (`view()`). Reads runs through `data_access`; app.py calls
these in order.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import data_access, search, state, transforms
from dashboard.palette import theme_colors
from dashboard.transforms import Filters, ViewFacts, escape_markdown
from pipeline import contract, derive

RUN_COMMAND = (
    "python -m pipeline run data/sample/papers_page_pretraining.txt "
    "--themes data/themes.toml --out data/runs"
)


@dataclass(frozen=True)
class ViewContext:
    """What the frame hands to every page: the run, its (reviewed) tables and the filters."""

    run_id: str
    manifest: contract.Manifest
    tables: dict[str, pd.DataFrame]
    filters: Filters
    mask: np.ndarray  # papers passing the filters, over tables["papers"]
    facts: ViewFacts
    review: data_access.ReviewHealth  # can the review store be read and written
    colors: dict[str, str] = field(default_factory=dict)
    search: search.SearchResult | None = None  # the search's ranked matches (None: no search)

    @property
    def papers(self) -> pd.DataFrame:
        return self.tables["papers"]

    @cached_property
    def shown(self) -> pd.DataFrame:
        """The papers that pass the global filters (all columns but search_text)."""
        return transforms.without_search_text(self.papers, self.mask)

    @property
    def filter_text(self) -> str:
        return transforms.describe_filters(self.filters, self.facts)

    @cached_property
    def data_end(self) -> pd.Timestamp | None:
        """Where the data of this view ends: the run's latest date (`derive.latest_date` of
        every paper, whatever the other filters), or the date filter's end when earlier."""
        end = derive.latest_date(self.papers["published"])
        if end is not None and self.filters.date_to is not None:
            end = min(end, pd.Timestamp(self.filters.date_to))
        return end

    def span(self, kind: str) -> derive.PeriodSpan:
        """The periods charts and growth cover: where the run's papers are inside the date
        filter (not only where the matches are), so growth compares the chosen range's last
        complete periods and timelines run over the whole range."""
        dates = self.papers["published"]
        if self.filters.date_from is not None:
            dates = dates[dates >= pd.Timestamp(self.filters.date_from)]
        if self.filters.date_to is not None:
            dates = dates[dates <= pd.Timestamp(self.filters.date_to)]
        return derive.timeline_span(dates, kind)

    @cached_property
    def shown_probabilities(self) -> pd.DataFrame:
        """Theme probabilities of the papers that pass the filters (a column per theme)."""
        return self.tables["theme_probabilities"][self.mask]


def view() -> ViewContext:
    """The view context the frame prepared for this run of the page."""
    return st.session_state[state.VIEW]


def no_run_page(title: str, message: str) -> None:
    """Explain what to do when there is no run to show (never a traceback)."""
    st.title("Research Theme Explorer")
    st.subheader(escape_markdown(title))
    st.text(message)
    st.markdown("Build a run from the bundled sample (or `make run`), then reload this page:")
    st.code(RUN_COMMAND, language="bash")
    st.caption(
        escape_markdown(
            f"Runs folder: {data_access.runs_dir()} (set {data_access.RUNS_ENV} to change it)"
        )
    )


def _run_label(manifest: contract.Manifest) -> str:
    """Short enough for the sidebar (the id holds the date; the facts below give the time)."""
    return f"{manifest.run_id} · {transforms.n_papers_text(manifest.counts.n_papers)}"


def pick_run() -> tuple[str | None, str]:
    """Sidebar run picker; returns (run id or None, message explaining why there is none)."""
    runs = data_access.available_runs()
    usable = [e.manifest for e in runs if e.manifest is not None]
    if not usable:
        if runs:
            problems = "\n".join(f"{e.run_id}: {e.problem}" for e in runs[:5])
            return None, (
                f"No run in {data_access.runs_dir()} can be opened by this dashboard "
                f"(it reads schema version {contract.SCHEMA_VERSION}):\n{problems}\n"
                "Rebuild a run with the current pipeline."
            )
        return None, f"There is no run yet in {data_access.runs_dir()}."
    unlisted(runs)
    by_id = {m.run_id: m for m in usable}
    latest = data_access.latest_run_id()
    default = latest if latest in by_id else usable[0].run_id
    key = state.bind(state.RUN, lambda v: v if v in by_id else default)
    run_id = st.sidebar.selectbox(
        "Run",
        list(by_id),
        key=key,
        format_func=lambda r: _run_label(by_id[r]),
        help="Runs in the runs folder, newest first; the default is the latest.",
    )
    return run_id, ""


def unlisted(runs: list[contract.RunEntry]) -> None:
    """A small caption under the run picker naming the run folders it leaves out (a manifest
    that is damaged, not an object, or from another schema version); the reasons on hover."""
    broken = [e for e in runs if e.manifest is None]
    if broken:
        st.sidebar.caption(
            escape_markdown("Not listed, cannot be opened: " + ", ".join(e.run_id for e in broken)),
            help="\n\n".join(escape_markdown(e.problem) for e in broken),
        )


def run_facts(manifest: contract.Manifest, tables: dict[str, pd.DataFrame]) -> None:
    """The run's date, inputs and counts (of the reviewed tables: a merge counts), as text."""
    n_clusters, n_themes = transforms.view_counts(tables)
    inputs = ", ".join(_file_name(i.path) for i in manifest.inputs)
    st.sidebar.text(
        f"Created {manifest.created_at[:19].replace('T', ' ')} UTC\n"
        f"Input: {inputs or 'n/a'}\n"
        f"{len(tables['papers'])} papers · {n_clusters} clusters · {n_themes} themes"
    )


def _file_name(path: str) -> str:
    """The last part of a path written on any system."""
    return re.split(r"[\\/]", str(path))[-1]


def _clear_filters() -> None:
    for param in (state.THEMES, state.CLUSTERS, state.DATE_FROM, state.DATE_TO, state.QUERY):
        state.set_value(param, param.default)


SEARCH_HELP = (
    "Finds papers by meaning as well as by words: 'robots' also finds papers about robot "
    "manipulation. Papers holding every word (title, abstract, authors; any case) always match "
    "and are marked; others match when they are similar enough to the query. Results are "
    "ranked under the page title. like:<paper id> lists the papers like that one (the 'Papers "
    "like this' button of a paper)."
)


def sidebar_filters(tables: dict[str, pd.DataFrame], run_id: str = "") -> Filters:
    """The global filters: search (by meaning and words, with a note on how it searched),
    themes, clusters and a date range."""
    papers, themes, clusters = tables["papers"], tables["themes"], tables["clusters"]
    theme_names = dict(zip(themes["theme_id"], themes["name"], strict=True))
    labels = dict(zip(clusters["cluster_id"], clusters["label"], strict=True))
    marks = {c: " ✎" for c in clusters.loc[clusters["is_changed"], "cluster_id"]}
    sb = st.sidebar
    sb.subheader("Filters")
    query = sb.text_input(
        "Search title, abstract, authors",
        key=state.bind(state.QUERY),
        placeholder="e.g. robots learning from video",
        help=SEARCH_HELP,
    )
    if query.strip() and run_id:
        sb.caption(escape_markdown(data_access.search_papers(run_id, query).note))
    chosen_themes = sb.multiselect(
        "Themes",
        list(theme_names),
        key=state.bind(state.THEMES, lambda v: [t for t in v if t in theme_names]),
        format_func=lambda t: theme_names.get(t, t),
        placeholder="All themes",
        help="Keep only papers of these themes (a paper's own theme, not its cluster's).",
    )
    chosen_clusters = sb.multiselect(
        "Clusters",
        list(labels),
        key=state.bind(state.CLUSTERS, lambda v: [int(c) for c in v if int(c) in labels]),
        format_func=lambda c: transforms.cluster_name(c, f"{labels.get(c, c)}{marks.get(c, '')}"),
        placeholder="All clusters",
        help="Keep only papers of these clusters (✎: changed in review).",
    )
    dates = papers["published"].dropna()
    lo = dates.min().date() if len(dates) else None
    hi = dates.max().date() if len(dates) else None

    def in_range(v):
        if v is None or (lo and hi and lo <= v <= hi):
            return v
        raise ValueError(v)

    def after_from(v):
        """`to` within the range and not before `from` (else it is ignored)."""
        start = st.session_state.get(state.widget_key(state.DATE_FROM))
        if v is not None and start is not None and v < start:
            raise ValueError(v)
        return in_range(v)

    date_from, date_to = (
        column.date_input(
            label,
            key=state.bind(param, check),
            min_value=lo,
            max_value=hi,
            format="YYYY-MM-DD",
            help=tip,
        )
        for column, label, param, check, tip in zip(
            (sb, sb),  # one per line: a column is too narrow for the whole date
            ("From", "To"),
            (state.DATE_FROM, state.DATE_TO),
            (in_range, after_from),
            (
                "Papers published on or after this day. Pick it in the calendar, or type it "
                "(YYYY-MM-DD) and press Enter: a typed date applies on Enter or when you leave "
                "the box.",
                "Papers published on or before this day. Pick it in the calendar, or type it "
                "(YYYY-MM-DD) and press Enter.",
            ),
            strict=True,
        )
    )
    sb.button(
        "Clear filters",
        on_click=_clear_filters,
        width="stretch",
        help="Search, themes, clusters and dates back to all papers.",
    )
    return Filters(
        themes=tuple(chosen_themes),
        clusters=tuple(int(c) for c in chosen_clusters),
        date_from=date_from if isinstance(date_from, dt.date) else None,
        date_to=date_to if isinstance(date_to, dt.date) else None,
        query=query or "",
    )


def build_view(run_id: str) -> ViewContext | str:
    """Load the run and the sidebar filters; a message string when the run cannot be read."""
    try:
        run = data_access.load_run(run_id)
        tables = data_access.view_tables(run_id)
    except contract.ContractError as exc:
        return str(exc)
    run_facts(run.manifest, tables)
    data_access.warm_query_model(run.manifest.embedding_model)  # no wait: loads in background
    health = data_access.review_health(run_id)
    filters = sidebar_filters(tables, run_id)
    mask = data_access.filter_mask(run_id, filters)
    found = data_access.search_papers(run_id, filters.query) if filters.query.strip() else None
    themes, clusters = tables["themes"], tables["clusters"]
    facts = ViewFacts(
        theme_names=dict(zip(themes["theme_id"], themes["name"], strict=True)),
        cluster_labels=dict(zip(clusters["cluster_id"], clusters["label"], strict=True)),
        query_label=_query_label(filters.query, tables["papers"]),
    )
    return ViewContext(
        run_id=run_id,
        manifest=run.manifest,
        tables=tables,
        filters=filters,
        mask=mask,
        facts=facts,
        review=health,
        colors=theme_colors(themes["theme_id"].tolist()),
        search=found,
    )


def _query_label(query: str, papers: pd.DataFrame) -> str:
    """How the filter line names a "papers like this" search (the paper's title), else ""."""
    paper_id = search.like_paper_id(query)
    if paper_id is None:
        return ""
    titles = papers.loc[papers["paper_id"] == paper_id, "title"]
    title = str(titles.iloc[0]) if len(titles) else paper_id
    return f'papers like "{title if len(title) <= 60 else title[:57] + "..."}"'


def review_notice(ctx: ViewContext) -> None:
    """A banner above every page when the review store cannot be read (the pages show the run
    as the pipeline made it) or cannot take decisions (they show the review as saved)."""
    health, path = ctx.review, escape_markdown(str(ctx.review.path))
    if health.unreadable:
        st.warning(
            f"review log unreadable: reviewed labels hidden; file kept untouched at {path} "
            f"({escape_markdown(health.unreadable)}). The pages show the run as the pipeline "
            "made it; the Review page says what to do.",
            icon=":material/report:",
        )
    elif health.read_only:
        st.info(
            f"Review decisions cannot be saved: {escape_markdown(health.read_only)}. The pages "
            f"show the review as saved in {path}.",
            icon=":material/lock:",
        )


def rerun_advice(manifest: contract.Manifest) -> str | None:
    """One line of Markdown when the run was made by `pipeline add` and too many added papers
    fit no cluster (the manifest's `addition.is_rerun_recommended`); None otherwise."""
    added = manifest.addition
    if added is None or not added.is_rerun_recommended:
        return None
    return (
        f"{added.n_unassigned} of the {added.n_added} papers added to run "
        f"{escape_markdown(manifest.parent_run_id or '?')} ({added.unassigned_share:.0%}, more "
        f"than {added.rerun_share:.0%}) fit no cluster: a full re-run "
        "(`python -m pipeline run`) would describe the corpus better."
    )


def rerun_notice(ctx: ViewContext) -> None:
    """A one-line banner above every page when `rerun_advice` has something to say."""
    advice = rerun_advice(ctx.manifest)
    if advice:
        st.info(advice, icon=":material/autorenew:")


def link_notice(placeholder) -> None:
    """One line above the page naming the link parameters it could not use (an unknown
    cluster or paper id, a bad date, `to` before `from`), instead of dropping them silently."""
    ignored = state.ignored_link_params()
    if ignored:
        placeholder.info(
            escape_markdown(
                "Not in this run or not valid here, so ignored from the link: "
                + ", ".join(ignored[:6])
            ),
            icon=":material/link_off:",
        )


def link_to_view(
    placeholder, page_path: str, query: dict, page_paths: tuple[str, ...] = ()
) -> None:
    """'Copy link to this view' in the sidebar: the full URL in a code box with a copy button."""
    base = st.context.url or "http://127.0.0.1:8501/"
    link = state.view_url(base, page_path, query, page_paths)
    with placeholder.container():
        st.caption("Copy link to this view")
        st.code(link, language=None, wrap_lines=True)
