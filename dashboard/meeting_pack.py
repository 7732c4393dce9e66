"""The meeting pack: a run's reviewed tables and decision log in, three files out — a
self-contained offline HTML report, a PowerPoint deck (python-pptx) and the decision log as a
formula-injection-safe CSV. Figures come from dashboard.figures; no Streamlit here.
"""

from __future__ import annotations

import dataclasses
import html
import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from dashboard import exports, figures, layers, palette, transforms
from pipeline import contract, derive, review

N_TOP_PAPERS = 5  # papers per cluster on a slide
LOG_CSV_COLUMNS = (
    "seq",
    "time",
    "reviewer",
    "action",
    "summary",
    "note",
    "is_undone",
    "target",
    "before",
    "after",
    "decision_id",
    "base_version",
)
STATUS_COLOURS = {
    "unreviewed": "#777",
    "accepted": "#2a7d2a",
    "needs work": "#b36b00",
    "rejected": "#b02a2a",
}


@dataclass(frozen=True)
class MeetingPack:
    """Paths of the files one pack wrote."""

    html: Path
    pptx: Path
    decisions_csv: Path
    has_images: bool  # chart images in the deck (False: text placeholders, no Chromium)
    review_problem: str = ""  # why the pack has no review ("" when the log was read)


def pack_figures(
    tables: dict[str, pd.DataFrame], period_kind: str = "quarter"
) -> dict[str, go.Figure]:
    """The pack's charts: theme timeline and paper map (coloured by theme, cluster labels)."""
    view = transforms.paper_view(tables)
    names = tables["themes"].set_index("theme_id")["name"].to_dict()
    colors = palette.theme_colors(tables["themes"]["theme_id"].tolist())
    span = derive.timeline_span(view["published"], period_kind)  # the same bounds as the page
    counts = transforms.timeline_counts(view, period_kind, "theme_id", span=span)
    timeline = figures.timeline_figure(counts, names=names, colors=colors, style="lines")
    outside = transforms.outside_span_text(span)
    map_layers = layers.map_layers(view, colors=colors, labels=True)
    the_map = figures.map_figure(map_layers, height=700)
    return {
        "timeline": exports.titled(
            timeline, "Papers per theme", f"by {period_kind}" + (f". {outside}" if outside else "")
        ),
        "map": exports.titled(the_map, "Paper map", "colour = theme; labels = clusters"),
    }


def cluster_order(clusters: pd.DataFrame) -> pd.DataFrame:
    """Clusters in meeting order: largest first, the unassigned papers last."""
    real = clusters[clusters["cluster_id"] != contract.UNASSIGNED]
    return real.sort_values(["n_papers", "cluster_id"], ascending=[False, True])


def _top_papers(tables: dict[str, pd.DataFrame], row: pd.Series, n: int | None) -> pd.DataFrame:
    """A cluster's papers, representative ones first, then newest first."""
    a = tables["assignments"]
    ids = a.loc[a["cluster_id"] == row["cluster_id"], "paper_id"]
    papers = tables["papers"].set_index("paper_id").loc[ids].reset_index()
    rank = {p: i for i, p in enumerate(row["representative_paper_ids"])}
    papers["rank"] = papers["paper_id"].map(rank).fillna(len(rank))
    papers = papers.sort_values(["rank", "published"], ascending=[True, False], na_position="last")
    return papers.head(n) if n else papers


def _e(value) -> str:
    return html.escape("" if value is None else str(value))


def _date(value) -> str:
    return pd.Timestamp(value).strftime("%Y-%m-%d") if pd.notna(value) else "n.d."


def meeting_html(
    run: contract.Run,
    tables: dict[str, pd.DataFrame],
    log: pd.DataFrame,
    figs: dict[str, go.Figure],
) -> str:
    """The offline HTML report: overview, theme timeline, map, one section per cluster with its
    papers, decisions and notes. plotly.js is inlined once; every text from papers or
    reviewers is HTML-escaped."""
    clusters = cluster_order(tables["clusters"])
    themes = tables["themes"].set_index("theme_id")["name"].to_dict()
    n_unassigned = int((tables["assignments"]["cluster_id"] == contract.UNASSIGNED).sum())
    statuses = clusters["status"].value_counts().to_dict()
    charts = [
        figs["timeline"].to_html(include_plotlyjs=True, full_html=False, div_id="theme-timeline"),
        figs["map"].to_html(include_plotlyjs=False, full_html=False, div_id="paper-map"),
    ]
    out = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Meeting pack: {_e(run.run_id)}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:1200px;margin:auto;padding:1em}"
        "table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;"
        "padding:4px 6px;text-align:left;vertical-align:top}.status{font-weight:bold}"
        ".edited{background:#fff3c4;padding:0 4px;border-radius:3px}"
        "section.cluster{border-top:2px solid #444;margin-top:2em}</style></head><body>",
        f"<h1>Meeting pack: run {_e(run.run_id)}</h1>",
        "<section id='overview'><h2>Overview</h2><ul>",
        f"<li>{len(tables['papers'])} papers, {len(clusters)} clusters, {n_unassigned} unassigned,"
        f" {transforms.view_counts(tables)[1]} themes</li>",
        f"<li>run created {_e(run.manifest.created_at)}; review version "
        f"{int(log['seq'].max()) if len(log) else 0} ({len(log)} decisions)</li>",
        "<li>status: " + ", ".join(f"{_e(k)} {v}" for k, v in sorted(statuses.items())) + "</li>",
        "</ul><table><tr><th>cluster</th><th>theme</th><th>papers</th><th>status</th></tr>",
    ]
    for _, c in clusters.iterrows():
        mark = " <span class='edited'>edited</span>" if c["is_edited"] else ""
        out.append(
            f"<tr><td><a href='#cluster-{int(c['cluster_id'])}'>{_e(c['label'])}</a>{mark}"
            f"</td><td>{_e(themes.get(c['theme_id'], c['theme_id']))}</td>"
            f"<td>{int(c['n_papers'])}</td><td>{_e(c['status'])}</td></tr>"
        )
    out += [
        "</table></section>",
        "<section id='timelines'><h2>Theme timelines</h2>",
        charts[0],
        "</section>",
        "<section id='map'><h2>Map</h2>",
        charts[1],
        "</section>",
    ]
    for _, c in clusters.iterrows():
        cid = int(c["cluster_id"])
        colour = STATUS_COLOURS.get(c["status"], "#777")
        out += [
            f"<section class='cluster' id='cluster-{cid}'>",
            f"<h2>{_e(c['label'])}"
            + (" <span class='edited'>edited</span>" if c["is_edited"] else "")
            + "</h2>",
            f"<p>cluster {cid} &middot; {int(c['n_papers'])} papers &middot; theme "
            f"{_e(themes.get(c['theme_id'], c['theme_id']))} &middot; status "
            f"<span class='status' style='color:{colour}'>{_e(c['status'])}</span>",
            (f" &middot; was {_e(c['original_label'])}" if c["is_renamed"] else "") + "</p>",
            f"<p>keywords: {_e(', '.join(c['keywords']))}</p>",
        ]
        if len(c["notes"]):
            out.append(
                "<h3>Notes</h3><ul>" + "".join(f"<li>{_e(n)}</li>" for n in c["notes"]) + "</ul>"
            )
        decided = _cluster_decisions(log, c)
        if len(decided):
            out.append(
                "<h3>Decisions</h3><ul>"
                + "".join(
                    f"<li>{_e(_date(r.time))} {_e(r.reviewer)}: {_e(r.summary)}</li>"
                    for r in decided.itertuples()
                )
                + "</ul>"
            )
        out.append("<h3>Papers</h3><table><tr><th>title</th><th>date</th><th>authors</th></tr>")
        for p in _top_papers(tables, c, None).itertuples():
            url = (
                p.url
                if isinstance(p.url, str) and p.url.startswith(("http://", "https://"))
                else None
            )
            title = f"<a href='{_e(url)}'>{_e(p.title)}</a>" if url else _e(p.title)
            authors = "; ".join(p.authors[:4]) + (" et al." if len(p.authors) > 4 else "")
            out.append(
                f"<tr><td>{title}</td><td>{_e(_date(p.published))}</td><td>{_e(authors)}</td></tr>"
            )
        out.append("</table></section>")
    out.append(
        "<section id='decisions'><h2>Decision log</h2><table><tr><th>#</th><th>time</th>"
        "<th>reviewer</th><th>decision</th><th>note</th></tr>"
    )
    for r in log.itertuples():
        undone = " (undone)" if r.is_undone else ""
        out.append(
            f"<tr><td>{int(r.seq)}</td><td>{_e(r.time)}</td><td>{_e(r.reviewer)}</td>"
            f"<td>{_e(r.summary)}{undone}</td><td>{_e(r.note)}</td></tr>"
        )
    out.append("</table></section></body></html>")
    return "\n".join(out)


def _cluster_decisions(log: pd.DataFrame, cluster: pd.Series) -> pd.DataFrame:
    """Log rows in effect that concern a cluster (by key, or by one of its papers)."""
    if log.empty:
        return log
    key = cluster["cluster_key"]
    live = log[~log["is_undone"] & (log["action"] != "undo")]
    hit = live["target"].str.contains(key, regex=False) | live["after"].str.contains(
        key, regex=False
    )
    return live[hit]


def decision_log_csv(log: pd.DataFrame) -> bytes:
    """The decision log as CSV; cells starting with = + - @ are neutralised."""
    frame = log.reindex(columns=list(LOG_CSV_COLUMNS)).copy()
    frame["time"] = frame["time"].astype(str)
    return exports.safe_csv(frame)


def _image(fig: go.Figure) -> bytes | None:
    """PNG bytes of a figure via kaleido, or None when Chromium is missing or export fails."""
    if exports.chromium_path() is None:
        return None
    try:
        return exports.figure_image(fig, "png")
    except Exception:  # noqa: BLE001 - any kaleido failure falls back to a text placeholder
        return None


def meeting_pptx(
    run: contract.Run, tables: dict[str, pd.DataFrame], images: dict[str, bytes | None]
) -> bytes:
    """The deck: title slide, theme timeline, map, one slide per cluster (label, keywords,
    top papers, status, notes). Charts without an image get a text placeholder."""
    from pptx import Presentation
    from pptx.util import Inches, Pt

    deck = Presentation()
    deck.slide_width, deck.slide_height = Inches(13.333), Inches(7.5)
    title_layout, only_title, blank = (
        deck.slide_layouts[0],
        deck.slide_layouts[5],
        deck.slide_layouts[6],
    )
    clusters = cluster_order(tables["clusters"])
    themes = tables["themes"].set_index("theme_id")["name"].to_dict()

    slide = deck.slides.add_slide(title_layout)
    slide.shapes.title.text = f"Research themes: run {run.run_id}"
    slide.placeholders[1].text = (
        f"{len(tables['papers'])} papers · {len(clusters)} clusters · "
        f"{transforms.view_counts(tables)[1]} themes · "
        f"{(clusters['status'] != 'unreviewed').sum()} reviewed"
    )

    for key, title in (("timeline", "Theme timeline"), ("map", "Paper map")):
        slide = deck.slides.add_slide(only_title)
        slide.shapes.title.text = title
        if images.get(key):
            slide.shapes.add_picture(
                io.BytesIO(images[key]), Inches(0.9), Inches(1.4), height=Inches(5.8)
            )
        else:
            box = slide.shapes.add_textbox(Inches(1), Inches(2.5), Inches(11), Inches(2))
            box.text_frame.text = (
                "[chart image not rendered: it needs Chromium (sudo apt-get install -y "
                "chromium); the interactive chart is in the HTML report]"
            )
    for _, c in clusters.iterrows():
        slide = deck.slides.add_slide(only_title)
        slide.shapes.title.text = str(c["label"])
        body = slide.shapes.add_textbox(Inches(0.6), Inches(1.4), Inches(12.1), Inches(5.8))
        frame = body.text_frame
        frame.word_wrap = True
        lines = [
            (
                f"{int(c['n_papers'])} papers · theme {themes.get(c['theme_id'], c['theme_id'])} · "
                f"status: {c['status']}" + (" · edited" if c["is_edited"] else ""),
                20,
                True,
            ),
            ("Keywords: " + ", ".join(c["keywords"][:8]), 16, False),
            ("Top papers", 16, True),
        ]
        for p in _top_papers(tables, c, N_TOP_PAPERS).itertuples():
            lines.append((f"• {p.title} ({_date(p.published)})", 14, False))
        if len(c["notes"]):
            lines.append(("Notes", 16, True))
            lines += [(f"• {n}", 14, False) for n in c["notes"]]
        for i, (text, size, bold) in enumerate(lines):
            para = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
            para.text = text
            para.font.size, para.font.bold = Pt(size), bold
    del blank
    buffer = io.BytesIO()
    deck.save(buffer)
    return buffer.getvalue()


def build_meeting_pack(
    run: contract.Run,
    tables: dict[str, pd.DataFrame],
    log: pd.DataFrame,
    out_dir: str | Path,
    *,
    images: bool = True,
) -> MeetingPack:
    """Write `<run_id>-meeting.html`, `-meeting.pptx` and `-decisions.csv` into `out_dir`.

    `tables` are the reviewed tables (`pipeline.review.reviewed_tables`), `log` the run's
    log frame. `images=False` skips kaleido (text placeholders in the deck)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    figs = pack_figures(tables)
    pngs = {k: _image(f) for k, f in figs.items()} if images else {}
    stem = out_dir / f"{run.run_id}-meeting"
    pack = MeetingPack(
        stem.with_suffix(".html"),
        stem.with_suffix(".pptx"),
        out_dir / f"{run.run_id}-decisions.csv",
        bool(pngs) and all(pngs.values()),
    )
    pack.html.write_text(meeting_html(run, tables, log, figs), encoding="utf-8")
    pack.pptx.write_bytes(meeting_pptx(run, tables, pngs))
    pack.decisions_csv.write_bytes(decision_log_csv(log))
    return pack


def pack_for_run(
    runs_dir: str | Path,
    run_id: str | None,
    out_dir: str | Path,
    store_path: str | Path | None = None,
    *,
    images: bool = True,
) -> MeetingPack:
    """Read a run and its review, then write its meeting pack (what the CLI calls). When the
    review store cannot be read the pack shows the run without reviews and `review_problem`
    says why; the store file is left untouched."""
    run = contract.read_run(runs_dir, run_id)
    store = review.ReviewStore(store_path or review.default_store_path(runs_dir))
    try:
        state, problem = review.load_state(store, run), ""
    except review.StoreUnreadable as exc:
        state, problem = review.unreviewed_state(run), str(exc)
    pack = build_meeting_pack(run, state.tables, state.log, out_dir, images=images)
    return dataclasses.replace(pack, review_problem=problem)
