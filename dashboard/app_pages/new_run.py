"""New run page: upload paper lists (or name a folder on the server), choose a themes file,
start `python -m pipeline run` in the background (dashboard/jobs.py); its progress is polled
live; when it ends, the rejected records and warnings, or the one-line reason of a failure,
and the new run is in the run picker at once. One run at a time."""

from pathlib import Path

import streamlit as st

from dashboard import data_access, jobs, state
from dashboard.transforms import escape_markdown

UPLOAD, FOLDER, THEMES_UPLOAD = "upload", "folder", "upload"
POLL_S = 2.0  # seconds between progress checks

st.title("New run")
st.caption(
    "Build a run from your own paper lists without a terminal: upload exports (or name a "
    "folder on this server), choose a themes file, start. The pipeline runs in the background "
    "(closing the tab does not stop it) and this page follows it; when it ends, the new run is "
    "in the run picker."
)
runs_dir = data_access.runs_dir()


@st.fragment(run_every=POLL_S)
def progress_panel() -> None:
    """The running job's stage, papers embedded and time left; the whole page reruns when
    the job ends (its outcome, and the new run in the picker)."""
    current = jobs.status(runs_dir)
    if current is None or not current.is_running:
        data_access.refresh_runs()
        st.rerun()
    share, text = jobs.progress_summary(current.progress)
    st.progress(share, text=text)
    st.caption(
        escape_markdown(
            f"Started {current.job.started_at[:19].replace('T', ' ')} UTC · inputs: "
            + ", ".join(Path(i).name for i in current.job.inputs)
        )
    )


def outcome(done: jobs.JobStatus) -> None:
    """What the last run started here left: the new run with its rejections and warnings, or
    the reason it failed."""
    if done.state == jobs.FAILED:
        st.error(escape_markdown(f"The last run failed: {done.reason}"), icon=":material/error:")
        return
    run = data_access.load_run(done.run_id)
    counts = run.manifest.counts
    st.success(
        escape_markdown(
            f"Run {done.run_id} is ready: {counts.n_papers:,} papers in {counts.n_clusters} "
            f"clusters; {counts.n_rejected:,} records rejected, {counts.n_warnings:,} kept "
            "with a warning."
        ),
        icon=":material/check_circle:",
    )
    if st.button(
        "Open the new run",
        key=state.NEW_RUN_OPEN,
        type="primary",
        on_click=state.set_value,
        args=(state.RUN, done.run_id),
        help="Show the new run on every page (the run picker in the sidebar lists it too).",
    ):
        st.switch_page("app_pages/overview.py")
    for warning in run.manifest.warnings:
        st.warning(escape_markdown(warning))
    rejections = run.rejections
    if len(rejections):
        st.markdown(f"**Rejected records and warnings ({len(rejections):,})**")
        st.dataframe(rejections, hide_index=True, key=state.NEW_RUN_REJECTIONS)
    with st.expander("Pipeline output"):
        st.code(jobs.stdout_text(done.job) or "(nothing)", language=None)


current = jobs.status(runs_dir)
if current is not None and current.is_running:
    st.subheader("A run is in progress")
    progress_panel()
    st.stop()
if current is not None:
    data_access.refresh_runs()  # a run that ended a moment ago is in the picker
    outcome(current)

st.subheader("Start a run")
source = st.radio(
    "Papers from",
    [UPLOAD, FOLDER],
    format_func={UPLOAD: "files I upload", FOLDER: "a folder on the server"}.get,
    horizontal=True,
    key=state.NEW_RUN_SOURCE,
    help="Upload exports from this computer, or name files or a folder the server can read "
    "(no size limit; folders are read recursively).",
)
problem, files, path = "", [], None
if source == UPLOAD:
    st.caption(
        f"Up to {jobs.MAX_UPLOAD_MB} MB in all. Any supported format: listing-page dumps (.txt, "
        "with their .meta.csv), CSV/TSV, JSON, JSON Lines, Parquet, arXiv Atom feeds and "
        "metadata dumps, BibTeX, Hugging Face daily papers. Unreadable records are listed "
        "when the run ends."
    )
    files = st.file_uploader(
        "Paper lists",
        accept_multiple_files=True,
        key=state.NEW_RUN_FILES,
        help="One or more exports; the pipeline detects each file's format from its name and "
        "content, and merges duplicates across files.",
    )
    files = files or []
    problem = jobs.too_large([f.size for f in files])
    inputs_ready = bool(files) and not problem
else:
    typed = st.text_input(
        "Folder or file on the server",
        key=state.NEW_RUN_FOLDER,
        placeholder="/data/exports/week-48",
        help="A path the server can read: a file, or a folder (read recursively, hidden "
        "entries skipped).",
    ).strip()
    path = Path(typed).expanduser() if typed else None
    if path is not None and not path.exists():
        problem = f"Not found on the server: {typed}"
    inputs_ready = path is not None and not problem
if problem:
    st.error(escape_markdown(problem))

theme_labels = {
    "": "none: name themes from the papers",
    **{str(p): f"{p.name} (shipped in data/)" for p in jobs.themes_files()},
    THEMES_UPLOAD: "upload a themes file",
}
theme_choice = st.selectbox(
    "Themes file",
    list(theme_labels),
    format_func=theme_labels.get,
    key=state.NEW_RUN_THEMES,
    help="The research themes to sort papers into (see the README's Themes section); without "
    "one the pipeline makes broad themes and names them from the papers.",
)
themes_upload = None
if theme_choice == THEMES_UPLOAD:
    themes_upload = st.file_uploader(
        "Themes file (TOML)",
        type=["toml"],
        key=state.NEW_RUN_THEMES_FILE,
        help="A [[theme]] table per theme: name, description, optional key_terms and examples.",
    )
ready = inputs_ready and (theme_choice != THEMES_UPLOAD or themes_upload is not None)
if st.button(
    "Start the run",
    key=state.NEW_RUN_START,
    type="primary",
    disabled=not ready,
    icon=":material/play_arrow:",
    help="Runs in the background, one run at a time; about a minute for a few hundred papers "
    "(embedding new papers takes longest).",
):
    uploaded_themes = themes_upload if theme_choice == THEMES_UPLOAD else None
    folder = jobs.new_upload_folder() if source == UPLOAD or uploaded_themes else None
    inputs = [path]
    if source == UPLOAD:
        jobs.save_files([(f.name, f.getvalue()) for f in files], folder / "papers")
        inputs = [folder / "papers"]  # a folder: a listing and its .meta.csv stay paired
    themes_path = theme_choice or None
    if uploaded_themes is not None:
        saved = jobs.save_files([(uploaded_themes.name, uploaded_themes.getvalue())], folder)
        themes_path = saved[0]
    try:
        jobs.start(inputs, runs_dir, themes_path, data_access.embedder_spec())
    except jobs.JobRunning as exc:
        st.warning(escape_markdown(f"Not started: {exc}."))
    else:
        st.rerun()
