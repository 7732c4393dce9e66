"""The dashboard's entry script: page config, the frame around every page (run picker, facts,
global filters, link to the view: frame.py), page navigation, and the URL kept in step with the
view. Run with `streamlit run dashboard/app.py` (reads runs from $RTE_RUNS_DIR, default
data/runs).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run dashboard/app.py` puts only dashboard/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from dashboard import data_access, frame, state  # noqa: E402

PAGE_DIR = Path(__file__).parent / "app_pages"
# A file served by this server: a `:material/...:` page icon makes the browser fetch the favicon
# from fonts.gstatic.com, and an emoji one from a CDN (the dashboard works offline).
PAGE_ICON = Path(__file__).parent / "icon.png"

# Pages in menu order: (file in app_pages/, title, icon, url path). Add a page by adding a row.
PAGES = [
    ("overview.py", "Overview", ":material/dashboard:", "overview"),
    ("map.py", "Map", ":material/scatter_plot:", "map"),
    ("timelines.py", "Timelines", ":material/timeline:", "timelines"),
    ("clusters.py", "Clusters", ":material/workspaces:", "clusters"),
    ("review.py", "Review", ":material/rate_review:", "review"),
    ("presenter.py", "Presenter", ":material/co_present:", "presenter"),
    ("compare.py", "Compare runs", ":material/compare_arrows:", "compare"),
    ("new_run.py", "New run", ":material/add_circle:", "new_run"),
]

st.set_page_config(page_title="Research Theme Explorer", page_icon=str(PAGE_ICON), layout="wide")
state.begin_run()

run_id, problem = frame.pick_run()
ctx = frame.build_view(run_id) if run_id else problem
if isinstance(ctx, str):
    frame.no_run_page("No run to show" if run_id is None else "This run cannot be read", ctx)
    # ... or start one here: the New run page, alone, at the root URL. Its url_path keeps its
    # identity, so the session stays on it once the new run makes the other pages appear.
    file, title, icon, path = next(p for p in PAGES if p[3] == "new_run")
    new_run = st.Page(PAGE_DIR / file, title=title, icon=icon, url_path=path, default=True)
    st.navigation([new_run]).run()
else:
    st.session_state[state.VIEW] = ctx
    pages = [
        st.Page(PAGE_DIR / file, title=title, icon=icon, url_path=path if i else "", default=i == 0)
        for i, (file, title, icon, path) in enumerate(PAGES)
    ]
    # The first page is the default, served at the root URL only, so its own path (/overview)
    # would be "Page not found"; a hidden page there opens the root with the same query.
    _, title, icon, path = PAGES[0]
    alias = st.Page(
        PAGE_DIR / "overview_alias.py", title=title, icon=icon, url_path=path, visibility="hidden"
    )
    page = st.navigation([*pages, alias])
    link_slot = st.sidebar.empty()
    notice_slot = st.empty()
    frame.review_notice(ctx)
    frame.rerun_notice(ctx)
    page.run()
    frame.link_notice(notice_slot)
    frame.link_to_view(link_slot, page.url_path, state.publish(), tuple(p[3] for p in PAGES))
    # After the page is drawn, so that it does not compete with drawing it: a large run's word
    # index starts building in the background (no wait) for the first search.
    data_access.warm_word_index(run_id)
