# grokkit — the two commands a newcomer needs:
#   make demo   execute every notebook headless (profile demo; PROFILE=paper for paper scale), write figures
#   make test   unit tests, then every notebook in its ci profile (papermill) and under nbval
# Both bootstrap .venv on their own (torch pinned to the CPU build 2.13.0 there).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.grokkit-installed
PROFILE ?= demo
OUT    ?= out
NOTEBOOKS ?= $(sort $(wildcard notebooks/*.ipynb))
TEST_CACHE := $(CURDIR)/.test-cache

.PHONY: demo test unit notebooks-test nbval notebooks bench lint browser-deps clean help

help:
	@echo "make demo [PROFILE=demo|paper|ci]  - run every notebook headless, write outputs + figures to $(OUT)/"
	@echo "make test                         - unit tests + notebooks (ci profile, papermill and nbval)"
	@echo "make bench                        - training-speed benchmark (ratios vs a plain loop)"
	@echo "make notebooks                    - rebuild notebooks/*.ipynb from notebooks/src/*.py"

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "torch==2.13.0"
	$(PY) -m pip install -q -e ".[dev]"
	@touch $(STAMP)

browser-deps:
	@bash tools/ensure_chromium.sh || echo "(no chromium: browser tests skip, figures are written as HTML only)"

demo: $(STAMP) browser-deps
	$(PY) tools/run_notebooks.py --profile $(PROFILE) --out $(OUT) $(NOTEBOOKS)

test: $(STAMP) browser-deps
	@rm -rf $(TEST_CACHE)
	$(PY) -m pytest -q -m "not notebook" tests
	GROKKIT_TEST_CACHE=$(TEST_CACHE) $(PY) -m pytest -q -m notebook tests
	GROKKIT_PROFILE=ci GROKKIT_CACHE=$(TEST_CACHE) GROKKIT_OUTPUT=$(TEST_CACHE)/nbval-out GROKKIT_STATIC=0 \
		$(PY) -m pytest -q --nbval-lax -p no:cacheprovider $(NOTEBOOKS)

unit: $(STAMP)
	$(PY) -m pytest -q -m "not notebook" tests

notebooks: $(STAMP)
	$(PY) tools/build_notebooks.py

bench: $(STAMP)
	$(PY) benchmarks/bench_train.py

lint: $(STAMP)
	$(PY) -m ruff check grokkit tests benchmarks tools
	$(PY) tools/build_notebooks.py --check

clean:
	rm -rf $(OUT) $(TEST_CACHE) .pytest_cache
