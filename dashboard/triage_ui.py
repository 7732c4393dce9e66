"""Theme triage on the Review and Presenter pages: the paper an answer teaches the theme model
most, its current guess, one click (or one key) per answer, undo, how accurate the themes are
so far, and where reviewers disagree. Answers go to the review log (pipeline.review); after each
one every page shows the refitted themes."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data_access, frame, state, widgets
from dashboard.transforms import escape_markdown
from pipeline.contract import OTHER
from pipeline.review import (
    ReviewError,
    ReviewState,
    answer_theme,
    describe,
    effective_decisions,
    undo,
)
from pipeline.themes.triage import QueueItem, triage_queue

QUEUE_LENGTH = 10  # papers queued ahead (the first is on screen)
SKIP_KEY, OTHER_KEY, UNDO_KEY = "s", "0", "u"


def queue(ctx: frame.ViewContext, review: ReviewState) -> list[QueueItem]:
    """The next papers to ask about, over the whole run (the sidebar filters do not apply:
    the model learns from every paper), never one answered or skipped in any run."""
    answered = set(review.answers.latest)
    paper_ids = review.assignments["paper_id"]
    rows = [i for i, pid in enumerate(paper_ids) if pid in answered]
    return triage_queue(
        review.theme_probabilities,
        review.assignments["cluster_id"].to_numpy(),
        data_access.unit_embeddings(ctx.run_id),
        answered=rows,
        n=QUEUE_LENGTH,
    )


def _answer(review: ReviewState, paper_id: str, themes: list[str], reviewer: str, audit: bool):
    try:
        decision = answer_theme(
            data_access.review_store(), review, paper_id, themes, reviewer=reviewer, is_audit=audit
        )
    except ReviewError as exc:
        st.session_state[state.REVIEW_FLASH] = ("error", str(exc))
    else:
        st.session_state[state.REVIEW_FLASH] = ("ok", f"Saved: {describe(decision)}")
    st.rerun()


def accuracy_line(run_id: str) -> None:
    """How often the themes are right so far, and when to stop."""
    audit, cv = data_access.theme_accuracy(run_id)
    st.markdown(
        f"**Theme accuracy** on random audit papers: {audit.text()} · "
        f"cross-validated over every answer: {cv.text()}"
    )
    st.caption(
        "Audit papers (1 in 5, drawn at random) measure the themes without bias; the "
        "cross-validated figure reads low, because the queue asks about the hardest papers. "
        "Stop when the audit interval's lower end passes the accuracy you need."
    )


def paper_card(ctx: frame.ViewContext, review: ReviewState, item: QueueItem, big: bool) -> str:
    """The paper on screen: title, facts, abstract, the model's guess; returns its paper id."""
    papers = ctx.papers
    row = papers.iloc[item.row]
    names = dict(zip(ctx.tables["themes"]["theme_id"], ctx.tables["themes"]["name"], strict=True))
    probabilities = pd.Series(review.theme_probabilities[item.row], index=list(names))
    best = probabilities.sort_values(ascending=False)
    guess = ", ".join(f"{names[t]} {p:.0%}" for t, p in best.head(3).items())
    (st.header if big else st.subheader)(escape_markdown(row["title"]))
    st.caption(
        escape_markdown(
            f"{row['date'] or 'no date'} · {row['authors_text'][:120]} · cluster "
            f"{row['cluster_label']} · asked because {item.reason}"
        )
    )
    st.markdown(escape_markdown(row["abstract"]))
    st.markdown(f"**Current guess:** {escape_markdown(guess)}")
    return row["paper_id"]


def answer_buttons(
    ctx: frame.ViewContext,
    review: ReviewState,
    item: QueueItem,
    paper_id: str,
    reviewer: str,
    can_decide: bool,
) -> None:
    """One button per theme (keys 1-9), then `other` (0), skip (s), two themes, undo (u)."""
    themes = ctx.tables["themes"]
    named = themes[themes["theme_id"] != OTHER]
    keys = [str(i + 1) if i < 9 else None for i in range(len(named))]
    for column, theme_id, name, key in zip(
        st.columns(len(named)), named["theme_id"], named["name"], keys, strict=True
    ):
        if column.button(
            escape_markdown(name),
            key=state.keyed(state.TRIAGE_ANSWER, theme_id),
            shortcut=key,
            disabled=not can_decide,
            width="stretch",
            help=f"This paper is {name}" + (f" (key {key})" if key else ""),
        ):
            _answer(review, paper_id, [theme_id], reviewer, item.is_audit)
    other, skip, two, go, back = st.columns([2, 2, 4, 2, 2], vertical_alignment="bottom")
    if other.button(
        "other",
        key=state.keyed(state.TRIAGE_ANSWER, OTHER),
        shortcut=OTHER_KEY,
        disabled=not can_decide,
        width="stretch",
        help=f"None of the themes (key {OTHER_KEY})",
    ):
        _answer(review, paper_id, [OTHER], reviewer, item.is_audit)
    if skip.button(
        "Skip",
        key=state.TRIAGE_SKIP,
        shortcut=SKIP_KEY,
        disabled=not can_decide,
        width="stretch",
        help=f"Not sure: ask about another paper (key {SKIP_KEY})",
    ):
        _answer(review, paper_id, [], reviewer, item.is_audit)
    pair = two.multiselect(
        "Two themes…",
        named["theme_id"].tolist(),
        max_selections=2,
        format_func=dict(zip(named["theme_id"], named["name"], strict=True)).get,
        key=state.versioned(state.TRIAGE_PAIR, paper_id, review.version),
        help="For a paper that clearly belongs to two themes",
    )
    if go.button("Save two", key=state.TRIAGE_PAIR_GO, disabled=not can_decide or len(pair) != 2):
        _answer(review, paper_id, pair, reviewer, item.is_audit)
    in_effect = effective_decisions(review.log)
    last_is_answer = bool(in_effect) and in_effect[-1].action == "theme_answer"
    if back.button(
        "Undo",
        key=state.TRIAGE_UNDO,
        shortcut=UNDO_KEY,
        width="stretch",
        help=f"Take back the last answer (key {UNDO_KEY})",
        disabled=not can_decide or not last_is_answer,
    ):
        try:
            undo(data_access.review_store(), review, reviewer=reviewer)
            st.session_state[state.REVIEW_FLASH] = ("ok", "Took back the last answer.")
        except ReviewError as exc:
            st.session_state[state.REVIEW_FLASH] = ("error", str(exc))
        st.rerun()


def disagreements(ctx: frame.ViewContext, review: ReviewState) -> None:
    """Papers reviewers answered differently: the latest answer applies; all are listed."""
    found = review.answers.disagreements
    if not found:
        return
    rows = [
        {
            "paper": answers[-1].paper_id,
            "answers (oldest first)": "; ".join(
                f"{a.reviewer}: {' + '.join(a.theme_ids)}" for a in answers
            ),
        }
        for answers in found.values()
    ]
    with st.expander(f"Reviewers disagree on {len(rows)} paper(s): the latest answer applies"):
        st.dataframe(pd.DataFrame(rows), hide_index=True)


MODES = {"clusters": "Clusters", "triage": "Theme triage"}


def mode_choice(label: str) -> str:
    """The Review / Presenter mode switch: "clusters" or "triage" (kept in the URL)."""
    return widgets.choice(
        label,
        list(MODES),
        state.REVIEW_MODE,
        labels=MODES,
        help="Clusters: review clusters one by one. Theme triage: answer the theme of the paper "
        "the model is least sure about; every answer teaches the theme model.",
    )


def triage(
    ctx: frame.ViewContext, review: ReviewState, reviewer: str, can_decide: bool, big: bool = False
) -> None:
    """The whole triage panel (the Review page's "Theme triage" view; larger on Presenter)."""
    n_answers = sum(1 for a in review.answers.latest.values() if a.theme_ids)
    st.caption(
        f"{n_answers} paper{'' if n_answers == 1 else 's'} answered so far (every run; answers "
        "apply by paper id). Each answer refits the theme model: similar papers follow it on "
        "every page."
    )
    accuracy_line(ctx.run_id)
    items = queue(ctx, review)
    if not items:
        st.success("Every paper has been answered or skipped.")
        return
    paper_id = paper_card(ctx, review, items[0], big)
    answer_buttons(ctx, review, items[0], paper_id, reviewer, can_decide)
    disagreements(ctx, review)
