"""Streamlit dashboard over pipeline runs. Importing the package makes every dashboard entry
point (the app, `python -m dashboard`, benchmarks) refuse model-hub downloads at once."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
