"""Hidden page at /overview: the Overview page is the default page, which Streamlit serves at
the root URL only, so this path opens it there and keeps the link's query (filters, run)."""

import streamlit as st

st.switch_page(
    "app_pages/overview.py",
    query_params={name: st.query_params.get_all(name) for name in st.query_params},
)
