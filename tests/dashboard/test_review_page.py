"""AppTest flows of the Review and Presenter pages: rename, merge, split (preview, accept), move,
stale decisions refused between two browsers, undo, and the reviewed state on other pages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import state as S
from pipeline import contract, review
from tests.dashboard.apptest_helpers import APP, open_page, trace_array, use_small_run

REVIEW, PRESENTER = "app_pages/review.py", "app_pages/presenter.py"


@pytest.fixture
def runs(tmp_path, monkeypatch) -> Path:
    return use_small_run(tmp_path / "runs", monkeypatch)


def _state(runs: Path) -> review.ReviewState:
    return review.load_state(
        review.ReviewStore(review.default_store_path(runs)), contract.read_run(runs, "r1")
    )


def _k(runs: Path, key: str, cluster_id: int) -> str:
    """The key of a cluster's review input, drawn on the current review version."""
    return S.versioned(key, cluster_id, _state(runs).version)


def _array(value) -> list:
    """A trace array from a chart spec, as a list."""
    return trace_array(value).tolist()


def _open(page: str, reviewer: str | None = "Ada") -> AppTest:
    return open_page(page, reviewer=reviewer)


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_rename_flow(runs):
    """Renaming on the Review page stores the decision and shows the new name, marked."""
    at = _open(REVIEW)
    at.text_input(key=_k(runs, S.REVIEW_LABEL, 0)).input("Data <mix> *quality*").run()
    at.button(key=S.keyed(S.REVIEW_RENAME, 0)).click().run()
    _ok(at)
    assert any("Saved" in s.value for s in at.success)
    state = _state(runs)
    assert state.cluster(0)["label"] == "Data <mix> *quality*" and state.log[
        "reviewer"
    ].tolist() == ["Ada"]
    assert any("✎" in s.value and "quality" in s.value for s in at.subheader)


def test_cluster_picker_sends_the_new_name_after_a_rename(runs):
    """After a rename the Cluster picker is sent its current (renamed, ✎) label as its value,
    so a browser cannot keep showing the old label, and the renamed cluster stays selected."""
    at = _open(REVIEW)
    at.selectbox(key=S.REVIEW_CLUSTER).set_value(2).run()
    at.text_input(key=_k(runs, S.REVIEW_LABEL, 2)).input("Data quality").run()
    at.button(key=S.keyed(S.REVIEW_RENAME, 2)).click().run()
    _ok(at)
    picker = at.selectbox(key=S.REVIEW_CLUSTER)
    assert picker.value == 2
    assert picker.proto.set_value and picker.proto.raw_value == picker.options[picker.index]
    assert picker.proto.raw_value.startswith("Data quality ✎ (#2")
    assert not any(o.startswith(_state(runs).cluster(2)["original_label"]) for o in picker.options)


def test_no_decision_without_a_reviewer_name(runs):
    """Decision buttons stay disabled until the reviewer gives a name."""
    at = _open(REVIEW, reviewer=None)
    assert at.button(key=S.keyed(S.REVIEW_RENAME, 0)).disabled
    assert at.button(key=S.keyed(S.REVIEW_MERGE_GO, 0)).disabled


def test_merge_flow(runs):
    """Merging two clusters on the page leaves one cluster holding both clusters' papers."""
    before = _state(runs)
    both = set(before.paper_ids(0)) | set(before.paper_ids(1))
    at = _open(REVIEW)
    at.multiselect(key=_k(runs, S.REVIEW_MERGE, 0)).select(1).run()
    at.button(key=S.keyed(S.REVIEW_MERGE_GO, 0)).click().run()
    _ok(at)
    after = _state(runs)
    assert set(after.paper_ids(0)) == both and 1 not in set(after.clusters["cluster_id"])
    assert after.cluster(0)["is_merged"]


def test_split_flow_preview_then_accept(runs):
    """Preview shows the parts without saving; accepting saves a split into k clusters."""
    at = _open(REVIEW)
    at.button(key=S.keyed(S.REVIEW_SPLIT_PREVIEW, 0)).click().run()
    _ok(at)
    members = _state(runs).paper_ids(0)
    preview = next(d.value for d in at.dataframe if "part" in d.value.columns)
    assert sorted(preview["part"].unique()) == [1, 2]  # two parts, numbered from 1
    assert sorted(preview["paper_id"]) == sorted(members)
    assert not at.button(key=S.keyed(S.REVIEW_SPLIT_ACCEPT, 0)).disabled
    assert _state(runs).version == 0  # a preview saves nothing
    n_before = len(members)
    at.button(key=S.keyed(S.REVIEW_SPLIT_ACCEPT, 0)).click().run()
    _ok(at)
    state = _state(runs)
    parts = state.clusters[state.clusters["is_split"]]
    assert len(parts) == 2 and parts["n_papers"].sum() == n_before
    assert state.log["action"].tolist() == ["split"]


def test_move_flow(runs):
    """Selected papers move to the chosen cluster (here: unassigned) and show as moved."""
    papers = _state(runs).paper_ids(0)[:2]
    at = _open(REVIEW)
    at.multiselect(key=_k(runs, S.REVIEW_MOVE_PAPERS, 0)).set_value(papers).run()
    at.selectbox(key=_k(runs, S.REVIEW_MOVE_TO, 0)).set_value(contract.UNASSIGNED).run()
    at.button(key=S.keyed(S.REVIEW_MOVE_GO, 0)).click().run()
    _ok(at)
    a = _state(runs).assignments.set_index("paper_id")
    assert (a.loc[papers, "cluster_id"] == contract.UNASSIGNED).all() and a.loc[
        papers, "is_moved"
    ].all()


def test_stale_decision_is_refused_between_two_browsers(runs):
    """Two browsers: the second decision made on the old state is refused; the message says
    what the other reviewer changed, the heading shows the current state and the text the
    second reviewer typed is kept for another try."""
    first, second = _open(REVIEW, "Ada"), _open(REVIEW, "Bob")
    drawn = _k(runs, S.REVIEW_LABEL, 0)  # both pages were drawn on version 0
    first.text_input(key=drawn).input("Ada's name").run()
    first.button(key=S.keyed(S.REVIEW_RENAME, 0)).click().run()
    second.text_input(key=drawn).input("Bob's name")
    second.button(key=S.keyed(S.REVIEW_RENAME, 0)).click().run()
    _ok(second)
    warning = " ".join(w.value for w in second.warning)
    assert "someone else changed" in warning and "Ada" in warning and "rename" in warning
    state = _state(runs)
    assert state.log["reviewer"].tolist() == ["Ada"] and state.cluster(0)["label"] == "Ada's name"
    assert any("Ada's name" in s.value.replace("\\", "") for s in second.subheader)
    kept = second.text_input(key=_k(runs, S.REVIEW_LABEL, 0))
    assert kept.value == "Bob's name"  # what Bob typed survives the refusal
    second.button(key=S.keyed(S.REVIEW_RENAME, 0)).click().run()  # and can be sent again
    _ok(second)
    assert _state(runs).cluster(0)["label"] == "Bob's name"


def test_status_is_saved_with_one_click(runs):
    """Review: clicking a status segment saves it at once (no Save button)."""
    at = _open(REVIEW)
    at.button_group(key=_k(runs, S.REVIEW_STATUS, 0)).set_value("accepted").run()
    _ok(at)
    assert _state(runs).cluster(0)["status"] == "accepted"
    assert _state(runs).log["action"].tolist() == ["set_status"]


def test_merge_says_and_keeps_an_accepted_status(runs):
    """Merging an unreviewed cluster into an accepted one: the page says the result stays
    accepted, and it does."""
    store = review.ReviewStore(review.default_store_path(runs))
    review.set_status(store, _state(runs), 0, "accepted", reviewer="Ada")
    at = _open(REVIEW)
    at.multiselect(key=_k(runs, S.REVIEW_MERGE, 0)).select(1).run()
    assert any("will be **accepted**" in c.value for c in at.caption)
    at.button(key=S.keyed(S.REVIEW_MERGE_GO, 0)).click().run()
    _ok(at)
    assert _state(runs).cluster(0)["status"] == "accepted"


def test_undo_button_takes_back_the_last_decision(runs):
    """Undo on the page reverts the last decision and logs the undo."""
    at = _open(REVIEW)
    at.text_input(key=_k(runs, S.REVIEW_LABEL, 0)).input("temporary").run()
    at.button(key=S.keyed(S.REVIEW_RENAME, 0)).click().run()
    at.button(key=S.REVIEW_UNDO).click().run()
    _ok(at)
    state = _state(runs)
    assert not state.cluster(0)["is_renamed"] and state.log["action"].tolist() == ["rename", "undo"]


def test_other_pages_show_the_reviewed_state(runs):
    """After a rename, the Clusters page lists the new name, marked as changed (also ✎ in
    its cluster picker and in the sidebar cluster filter)."""
    at = _open(REVIEW)
    at.text_input(key=_k(runs, S.REVIEW_LABEL, 0)).input("Renamed cluster").run()
    at.button(key=S.keyed(S.REVIEW_RENAME, 0)).click().run()
    clusters = AppTest.from_file(APP, default_timeout=60)
    clusters.switch_page("app_pages/clusters.py")
    clusters.run()
    _ok(clusters)
    table = clusters.dataframe[0].value
    row = table[table["cluster_id"] == 0].iloc[0]
    assert row["label"] == "Renamed cluster" and bool(row["is_changed"])
    for picker in (clusters.selectbox[0], clusters.sidebar.multiselect[1]):
        assert picker.label in ("Open a cluster", "Clusters")
        assert [o for o in picker.options if "✎" in o] == ["Renamed cluster ✎ (#0)"]


def test_map_page_marks_moved_papers_and_edited_clusters(runs):
    """On the Map page a moved paper's hover says so and a renamed cluster's label has ✎."""
    store = review.ReviewStore(review.default_store_path(runs))
    moved = _state(runs).paper_ids(0)[0]
    review.move(store, _state(runs), [moved], 1, reviewer="Ada")
    review.rename(store, _state(runs), 2, "Renamed on the map", reviewer="Ada")
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("app_pages/map.py")
    at.run()
    _ok(at)
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    hovers = [
        (int(row), text)
        for trace in fig["data"]
        if trace.get("hovertext") is not None
        for row, text in zip(_array(trace["customdata"]), trace["hovertext"], strict=True)
    ]
    state = _state(runs)
    row_of = {pid: i for i, pid in enumerate(state.tables["papers"]["paper_id"])}
    assert [r for r, text in hovers if "moved by review" in text] == [row_of[moved]]
    clusters = state.clusters[state.clusters["cluster_id"] != contract.UNASSIGNED]
    edited = set(clusters.loc[clusters["is_edited"], "label"])
    labels = [a["text"] for a in fig["layout"]["annotations"]]
    assert "Renamed on the map" in edited and len(edited) < len(clusters)
    assert {t.removesuffix(" ✎") for t in labels if t.endswith(" ✎")} == edited
    assert not any("✎" in t for t in labels if t.removesuffix(" ✎") not in edited)


def test_presenter_navigation_and_decision(runs):
    """The presenter shows '1 of N', moves with Next, and records a status decision."""
    at = _open(PRESENTER)
    n = int((_state(runs).clusters["cluster_id"] != contract.UNASSIGNED).sum())
    assert f"1 of {n}" in at.get("progress")[0].proto.text
    at.button(key=S.PRESENTER_NEXT).click().run()
    assert f"2 of {n}" in at.get("progress")[0].proto.text
    shown = at.title[0].value
    at.button(key=S.PRESENTER_STATUS["accepted"]).click().run()
    _ok(at)
    state = _state(runs)
    accepted = state.clusters[state.clusters["status"] == "accepted"]
    assert len(accepted) == 1 and accepted.iloc[0]["label"] in shown.replace("\\", "")
    at.toggle(key=S.PRESENTER_UNDECIDED).set_value(True).run()
    assert f"of {n - 1}" in at.get("progress")[0].proto.text


def test_presenter_keys_url_and_sidebar(runs):
    """Presenter: ← and → move through the agenda, the cluster on screen is in the URL (and a
    link to one opens it), the sidebar is hidden and active filters are said not to apply."""
    at = _open(PRESENTER)
    assert at.button(key=S.PRESENTER_PREV).proto.shortcut == "left"
    assert at.button(key=S.PRESENTER_NEXT).proto.shortcut == "right"
    at.button(key=S.PRESENTER_NEXT).click().run()
    second = at.title[0].value
    showing = at.query_params[S.PRESENTER_CLUSTER.name]
    linked = open_page(PRESENTER, reviewer="Ada", **{S.PRESENTER_CLUSTER.name: showing})
    assert linked.title[0].value == second
    assert "2 of" in linked.get("progress")[0].proto.text
    assert any("stSidebar" in m.value and "display:none" in m.value for m in at.markdown)
    filtered = open_page(PRESENTER, reviewer="Ada", q="study")
    assert any("do not apply here" in i.value for i in filtered.info)
    assert not any(
        b.proto.type == "primary" for b in at.button if b.key == S.PRESENTER_STATUS["unreviewed"]
    )


def test_meeting_pack_button_offers_the_three_files(runs, monkeypatch):
    """One click builds the pack; the page then offers HTML, PPTX and CSV downloads."""
    monkeypatch.setattr("dashboard.exports.chromium_path", lambda: None)  # no kaleido: fast
    at = _open(REVIEW)
    at.button(key=S.REVIEW_PACK).click().run()
    _ok(at)
    names = [b.proto.label for b in at.get("download_button")]
    assert names == ["r1-meeting.html", "r1-meeting.pptx", "r1-decisions.csv"]
