"""Every session-state and query-parameter key of the dashboard lives here.

Shareable settings are `Param`s (a query-parameter name, a default and a parser); their widgets
are keyed by `widget_key(param)`; the URL is rewritten from them each run, so pasting a URL
into another browser restores the page, filters and selection. Below the params: the keys of
the other widgets (by page) and of the values a session keeps between reruns.

Precedence when a widget is (re)created: a value the URL changed from outside (a pasted link or
`st.page_link(..., query_params=...)`) > the widget's live value > the last value seen this
session > the default.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import numpy as np
import streamlit as st

_PUBLISHED = "_state_published"  # {param name: serialised value last written to the URL}
_ACTIVE = "_state_active"  # params bound during the current script run, in order
_SHADOW = "_state_value_"  # prefix: last value seen, survives widget cleanup between pages
_IGNORED = "_state_ignored"  # ["name=value", ...]: link parameters this run could not use


@dataclass(frozen=True)
class Param:
    """One shareable setting. `many` params are lists in the URL (repeated keys)."""

    name: str
    default: Any
    parse: Callable[[str], Any] = str
    many: bool = False

    def serialise(self, value: Any) -> list[str] | str | None:
        if value is None or value == self.default:
            return None
        if self.many:
            return [str(v) for v in value] if value else None
        return value.isoformat() if isinstance(value, dt.date) else str(value)


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _flag(text: str) -> bool:
    if text not in ("True", "False"):
        raise ValueError(text)
    return text == "True"


def _opt_int(text: str) -> int | None:
    return int(text) if text not in ("", "None") else None


def zoom_window(text: str) -> tuple[float, float, float, float] | None:
    """The map window (x0, x1, y0, y1) a `zoom` value "x0,x1,y0,y1" names; None for ""."""
    if not text:
        return None
    x0, x1, y0, y1 = (float(v) for v in text.split(","))
    if not (x0 < x1 and y0 < y1 and all(map(np.isfinite, (x0, x1, y0, y1)))):
        raise ValueError(text)
    return x0, x1, y0, y1


def zoom_text(window: tuple[float, float, float, float]) -> str:
    """The `zoom` value of a map window (x0, x1, y0, y1), 6 significant digits."""
    return ",".join(f"{v:.6g}" for v in window)


def valid_zoom(text: str) -> str:
    """`text` when it is a valid `zoom` value (see `zoom_window`); else ValueError."""
    zoom_window(text)  # raises ValueError for a bad window
    return text


# Global (sidebar) params.
RUN = Param("run", None)
THEMES = Param("themes", (), many=True)
CLUSTERS = Param("clusters", (), int, many=True)
DATE_FROM = Param("from", None, _date)
DATE_TO = Param("to", None, _date)
QUERY = Param("q", "")
GLOBAL_PARAMS = (RUN, THEMES, CLUSTERS, DATE_FROM, DATE_TO, QUERY)
# Page params.
OVERVIEW_PERIOD = Param("growth_period", "quarter")
MAP_COLOR = Param("color", "theme")
MAP_PAPER = Param("paper", None)
MAP_ZOOM = Param("zoom", "", valid_zoom)  # a dense map's window "x0,x1,y0,y1"; "": all
TL_PERIOD = Param("period", "quarter")
TL_MEASURE = Param("measure", "n_papers")
TL_STYLE = Param("style", "lines")
TL_COUNTS = Param("counts", "papers")  # "papers", or "expected": also expected counts and band
TL_OTHER = Param("other", False, _flag)  # Timelines: draw "other" beside named themes
TL_WITHIN = Param("within", "")  # a theme id: show the clusters inside it
TL_GROUP = Param("group", None)  # theme id or cluster id (as text) whose papers to list
TL_AT = Param("at", None)  # period label whose papers to list
CLUSTER = Param("cluster", None, _opt_int)
CLUSTER_SORT = Param("sort", "relevance")
CLUSTER_SEARCH = Param("find", "")
PRESENTER_CLUSTER = Param("showing", None, _opt_int)  # Presenter: the cluster id on screen
REVIEW_MODE = Param("mode", "clusters")  # Review and Presenter: "clusters" or "triage"
COMPARE_EARLIER = Param("before", None)  # Compare: the earlier run's id
COMPARE_LATER = Param("after", None)  # Compare: the later run's id
COMPARE_MIN_FLOW = Param("min_flow", 1, int)  # Compare: flows with fewer papers are not drawn

# Values a session keeps between reruns (not widgets).
VIEW = "_state_view"  # the ViewContext the frame hands to the page
REVIEW_SEEN = "_review_seen_version_"  # + run id: the review version this browser last drew
REVIEWER_KEPT = "_review_reviewer_name"  # the reviewer name; survives page switches
REVIEW_FLASH = "_review_flash"  # (kind, text) shown once after a decision
REVIEW_GOTO = "_review_goto"  # cluster id to select on the next run of the Review page
REVIEW_KEPT_TEXT = "_review_kept_text"  # {input key without version: text} of a refused decision
REVIEW_STATUS_PICKED = "_review_status_picked"  # cluster id whose status segment was clicked
SPLIT_PREVIEW = "_review_split_preview"  # the pending SplitPreview
MEETING_PACK = "_review_meeting_pack"  # (run id, version, {file name: bytes}, has images)
PRESENTER_AT = "_presenter_position"  # cluster key on screen (survives agenda reorders)
PRESENTER_AT_INDEX = "_presenter_position_i"  # its agenda position, when the key is gone
TIMELINE_CLICKED = "_timeline_clicked"  # the chart click already applied (applied once)
FIRST_STEPS_HIDDEN = "_first_steps_hidden"  # Overview's first steps, dismissed this session
MAP_SELECTION = "_map_selection"  # (run id, paper rows) of the last box/lasso selection

# Widget keys that are not params. Alike widgets share a base key told apart by `keyed`;
# Review and Presenter inputs are `versioned`.
NEAREST = "nearest"  # paper detail: nearest-papers table, keyed by paper row
LIKE_THIS = "like_this"  # paper detail: "papers like this" button, keyed by paper row
SEARCH_RESULTS = "search_results"  # the ranked search results under a page title
OVERVIEW_THEMES_CHART = "overview_themes"
MAP_CHART = "map_chart"
MAP_SELECTED = "map_selected"
MAP_PREV = "map_prev"  # step through the selected (else filtered) papers
MAP_NEXT = "map_next"
MAP_CLEAR = "map_clear_selection"
MAP_ZOOM_IN = "map_zoom_in"  # a dense map: draw the selection's region
MAP_ZOOM_OUT = "map_zoom_out"  # ... and back to the whole map
TIMELINE_CHART = "timeline_chart"  # keyed by grouping (theme_id or cluster_id)
TIMELINE_PAPERS = "timeline_papers"
CLUSTERS_TABLE = "clusters_table"
CLUSTER_MIX_CHART = "cluster_mix"
CLUSTER_KEYWORDS_CHART = "cluster_keywords"
CLUSTER_TIMELINE_CHART = "cluster_timeline"
CLUSTER_MAP_CHART = "cluster_map"
CLUSTER_PAPER_LIST = "cluster_paper_list"
CLUSTER_CSV = "dl_csv"
CLUSTER_BIBTEX = "dl_bib"
CLUSTER_MARKDOWN = "dl_md"
CLUSTER_READ = "cluster_read"
REVIEWER = "review_reviewer"  # the reviewer's name (Review and Presenter)
REVIEW_REFRESH = "review_refresh"
REVIEW_CLUSTER = "review_cluster"
# Review inputs, versioned by cluster id and review version.
REVIEW_STATUS = "review_status"
REVIEW_LABEL = "review_label"
REVIEW_THEME = "review_theme"
REVIEW_NOTE = "review_note"
REVIEW_MERGE = "review_merge"
REVIEW_MERGE_NAME = "review_merge_name"
REVIEW_SPLIT_K = "review_split_k"
REVIEW_SPLIT_NAME = "review_split_name"  # then keyed by part number
REVIEW_PAPERS = "review_papers"
REVIEW_MOVE_PAPERS = "review_move_papers"
REVIEW_MOVE_TO = "review_move_to"
# Review buttons and tables, keyed by cluster id.
REVIEW_RENAME = "review_rename"
REVIEW_THEME_GO = "review_theme_go"
REVIEW_NOTE_GO = "review_note_go"
REVIEW_MERGE_GO = "review_merge_go"
REVIEW_SPLIT_PREVIEW = "review_split_preview"
REVIEW_SPLIT_TABLE = "review_split_table"
REVIEW_SPLIT_ACCEPT = "review_split_accept"
REVIEW_SPLIT_CANCEL = "review_split_cancel"
REVIEW_MOVE_GO = "review_move_go"
REVIEW_LOG = "review_log"
REVIEW_LOG_ACTIONS = "review_log_actions"
REVIEW_LOG_REVIEWERS = "review_log_reviewers"
REVIEW_LOG_SEARCH = "review_log_search"
REVIEW_LOG_UNDONE = "review_log_undone"
REVIEW_UNDO = "review_undo"
TRIAGE_ANSWER = "triage_answer"  # then keyed by theme id
TRIAGE_SKIP = "triage_skip"
TRIAGE_PAIR = "triage_pair"  # then versioned by paper and review version
TRIAGE_PAIR_GO = "triage_pair_go"
TRIAGE_UNDO = "triage_undo"
REVIEW_PACK = "review_pack"
REVIEW_DOWNLOAD = "review_dl"  # keyed by file name
PRESENTER_UNDECIDED = "presenter_undecided"
PRESENTER_PREV = "presenter_prev"
PRESENTER_NEXT = "presenter_next"
PRESENTER_TIMELINE = "presenter_timeline"
PRESENTER_STATUS = {  # a button per status
    "accepted": "presenter_accept",
    "needs work": "presenter_needs_work",
    "rejected": "presenter_reject",
    "unreviewed": "presenter_reset",
}
PRESENTER_LABEL = "presenter_label"  # versioned by cluster key
PRESENTER_RENAME = "presenter_rename"
PRESENTER_NOTE = "presenter_note"  # versioned by cluster key
PRESENTER_NOTE_GO = "presenter_note_go"
PRESENTER_AGENDA = "presenter_agenda"
PRESENTER_JUMP = "presenter_jump"
COMPARE_FLOW_CHART = "compare_flows"
COMPARE_CHANGES = "compare_changes"
COMPARE_THEMES_CHART = "compare_themes"
COMPARE_NEW_PAPERS = "compare_new_papers"
NEW_RUN_SOURCE = "new_run_source"  # upload or folder
NEW_RUN_FILES = "new_run_files"
NEW_RUN_FOLDER = "new_run_folder"
NEW_RUN_THEMES = "new_run_themes"  # "", a themes file's path, or upload
NEW_RUN_THEMES_FILE = "new_run_themes_file"
NEW_RUN_START = "new_run_start"
NEW_RUN_OPEN = "new_run_open"
NEW_RUN_REJECTIONS = "new_run_rejections"
FIRST_STEPS_HIDE = "first_steps_hide"


def widget_key(param: Param) -> str:
    """The key of the widget that shows `param`."""
    return f"w_{param.name}"


def keyed(key: str, *parts: object) -> str:
    """The key of one of several alike widgets: `key` and what tells them apart (a cluster id,
    a paper row, an export format, a file name)."""
    return "_".join([key, *map(str, parts)])


def versioned(key: str, owner: object, version: int) -> str:
    """The key of an input about `owner` (a cluster) drawn on review version `version`: after
    any decision the input is a new widget, so it shows the current state, not old typing."""
    return f"{key}_{owner}_v{version}"


def begin_run() -> None:
    """Start a script run: forget which params were bound last run."""
    st.session_state[_ACTIVE] = []
    st.session_state[_IGNORED] = []


def ignored_link_params() -> list[str]:
    """The link parameters ("cluster=999") this run could not use: unknown ids, bad values."""
    return list(st.session_state.get(_IGNORED, []))


def _ignore(param: Param, raw: Any) -> None:
    values = raw if isinstance(raw, list) else [raw]
    st.session_state.setdefault(_IGNORED, []).extend(f"{param.name}={v}" for v in values)


def _from_url(param: Param) -> tuple[bool, Any]:
    """(changed_from_outside, parsed value) for the URL's value of `param`; a value that
    does not parse is noted as ignored."""
    if param.name not in st.query_params:
        return False, None
    raw: Any = st.query_params.get_all(param.name) if param.many else st.query_params[param.name]
    published = st.session_state.get(_PUBLISHED, {}).get(param.name)
    if raw == published:
        return False, None
    try:
        value = tuple(param.parse(v) for v in raw) if param.many else param.parse(raw)
    except (TypeError, ValueError):
        _ignore(param, raw)
        return False, None
    return True, value


def bind(param: Param, valid: Callable[[Any], Any] | None = None) -> str:
    """Prepare the widget for `param` and return its key (create the widget with it, without
    passing a value/default). `valid(value)` returns the value made valid (e.g. unknown ids
    removed) or raises ValueError to fall back to the default."""
    key = widget_key(param)
    changed, url_value = _from_url(param)
    if changed:
        value = url_value
    elif key in st.session_state:
        value = st.session_state[key]
    else:
        value = st.session_state.get(_SHADOW + param.name, param.default)
    if valid is not None:
        try:
            checked = valid(value)
        except (ValueError, TypeError, KeyError):
            checked = param.default
        if changed and _differs(param, checked, value):  # the link named something not here
            kept = set(map(str, checked or ())) if param.many else set()
            _ignore(param, [str(v) for v in value if str(v) not in kept] if param.many else value)
        value = checked
    if param.many:
        value = list(value or [])
    st.session_state[key] = value
    st.session_state.setdefault(_ACTIVE, []).append(param)
    return key


def _differs(param: Param, checked: Any, value: Any) -> bool:
    if param.many:
        return list(checked or []) != list(value or [])
    return checked != value


def value(param: Param) -> Any:
    """The current value of a bound param (tuples for `many` params)."""
    current = st.session_state.get(widget_key(param), param.default)
    return tuple(current) if param.many else current


def set_value(param: Param, new: Any) -> None:
    """Set a param from code (e.g. a button or a table selection); call before its widget is
    created in this run, or from a callback."""
    st.session_state[widget_key(param)] = list(new) if param.many else new
    st.session_state[_SHADOW + param.name] = new


def current_query() -> dict[str, list[str] | str]:
    """The query parameters describing the current view (non-default params bound this run)."""
    out: dict[str, list[str] | str] = {}
    for param in st.session_state.get(_ACTIVE, []):
        current = value(param)
        st.session_state[_SHADOW + param.name] = current
        encoded = param.serialise(current)
        if encoded is not None:
            out[param.name] = encoded
    return out


def publish() -> dict[str, list[str] | str]:
    """Rewrite the URL's query parameters to describe the current view; return them."""
    desired = current_query()
    if {k: st.query_params.get_all(k) for k in st.query_params} != {
        k: v if isinstance(v, list) else [v] for k, v in desired.items()
    }:
        st.query_params.from_dict(desired)
    st.session_state[_PUBLISHED] = dict(desired)
    return desired


def view_url(base_url: str, page_path: str, query: dict, page_paths: tuple[str, ...] = ()) -> str:
    """Absolute link to a page with the given query (lists become repeated keys). `base_url`
    is the browser's current URL; a trailing page path from `page_paths` is replaced."""
    base = base_url.split("?")[0].split("#")[0].rstrip("/")
    head, _, last = base.rpartition("/")
    if last in page_paths and "//" in head + "/":
        base = head
    url = f"{base}/{page_path}" if page_path else base + "/"
    return url + ("?" + urlencode(query, doseq=True) if query else "")
