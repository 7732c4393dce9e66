# Two commands on a fresh machine: `make run` (setup, sample run, dashboard) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8501
RUNS ?= data/runs
THEMES ?= data/themes.toml
SAMPLE := data/sample/papers_page_pretraining.txt
INPUT ?=
# Installation is skipped while requirements.txt is unchanged (stamp keyed by its hash).
STAMP := $(VENV)/.installed-$(shell sha256sum requirements.txt | cut -c1-16)
TORCH := $(shell grep -m1 '^torch==' requirements.txt)

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup run test sample browser lint bench clean-runs

setup: $(STAMP)

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q "$(TORCH)"
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

# Debian's chromium for chart export (kaleido) and the browser test; never fatal.
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
	  || echo "note: could not install chromium; chart export to PNG/SVG stays off"; \
	else echo "note: chromium missing; install it with: sudo apt-get install -y chromium chromium-driver"; fi

# Build a run from INPUT when given, else the bundled sample once (when no run exists yet).
sample: setup
	@if [ -n "$(INPUT)" ]; then \
	  $(PY) -m pipeline run $(INPUT) --themes $(THEMES) --out $(RUNS); \
	elif [ ! -s $(RUNS)/latest ]; then \
	  $(PY) -m pipeline run $(SAMPLE) --themes $(THEMES) --out $(RUNS); \
	fi

run: sample browser
	RTE_RUNS_DIR=$(RUNS) $(PY) -m streamlit run dashboard/app.py \
	  --server.address 127.0.0.1 --server.port $(PORT) --server.headless true \
	  --browser.gatherUsageStats false

test: setup browser
	$(PY) -m pytest

lint: setup
	$(PY) -m ruff check pipeline dashboard tests bench

bench: setup
	$(PY) -m pipeline bench
