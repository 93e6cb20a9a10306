# The two commands: `make run` (the annotator with a demo project on the embedded SQLite) and
# `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench bench-ablation clean postgres browser demo screenshots

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 or run make PYTHON=python3.x"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,train]'
	@touch $@

run: $(STAMP)
	$(BIN)/fgtext-annotator demo --dir demo-annotator

# The agreement demo without a server: synthetic clips, simulated annotators, agreement, merge.
demo: $(STAMP)
	$(BIN)/fgtext demo --out demo

test: $(STAMP) postgres browser
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

# The end-to-end tests drive Debian's Chromium through Playwright (no browser download).
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  echo "installing Debian's chromium for the browser tests"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $(SUDO) apt-get install -y -q chromium >/dev/null || \
	    { $(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q chromium >/dev/null; }; \
	fi

# Refresh the README's screenshots (the e2e tests write them to build/screenshots).
screenshots: $(STAMP) browser
	$(BIN)/python -m pytest -q tests/e2e
	mkdir -p docs/screenshots
	cp build/screenshots/*.png docs/screenshots/

# The store's tests run on PostgreSQL too (127.0.0.1:5432, trust auth); start the local cluster
# if it is installed and down. FGTEXT_TEST_PG points the tests at another server.
postgres:
	@if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then \
	  echo "starting PostgreSQL"; \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | tail -1) main start; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Figures, not pass/fail: agreement speed, server load on SQLite and PostgreSQL, page renders,
# annotation quality and suggestion bias by simulation, training throughput on CPU, and the
# synthetic learning check (a few minutes).
bench: $(STAMP) postgres
	$(BIN)/python bench/agreement.py
	$(BIN)/python bench/server_load.py --seconds 10 --annotators 50 --workers 1,2
	$(BIN)/python bench/pages.py
	$(BIN)/python bench/reliability.py
	$(BIN)/python bench/annotation_quality.py
	$(BIN)/python bench/suggestion_bias.py
	$(BIN)/fgsgl-train bench --arch tiny
	$(BIN)/python bench/learning_check.py

# The ablation table of README on the synthetic fine-grained benchmark: 7 variants x 5 seeds on
# CPU (about half an hour on 2 cores; resumable: run it again to continue).
bench-ablation: $(STAMP)
	$(BIN)/python bench/ablation_synth.py --out build/ablation-synth --seeds 0-4

clean:
	rm -rf $(VENV) demo demo-annotator build .pytest_cache .ruff_cache
