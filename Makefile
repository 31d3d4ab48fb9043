# grokkit — the two commands a newcomer needs:
#   make demo   execute every notebook headless (profile demo; PROFILE=paper for paper scale), write figures
#   make test   unit tests, then every notebook in its ci profile (papermill), under nbval (replaying those ci
#               executions: every cell runs in a Jupyter kernel, nothing trains twice), then JupyterLab in a browser
# Both bootstrap .venv on their own (torch pinned to the CPU build 2.13.0 there).
# Workshops: `make lab` (JupyterLab on notebooks/, profile demo), `make site` (the static HTML site in site/).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.grokkit-installed
PROFILE ?= demo
OUT    ?= out
NOTEBOOKS ?= $(sort $(wildcard notebooks/*.ipynb))
TEST_CACHE := $(CURDIR)/.test-cache

LAB_PORT ?= 8888
LAB_ARGS ?=
SITE   ?= site

.PHONY: demo test unit notebooks-test nbval notebooks bench lint browser-deps lab site clean help

help:
	@echo "make demo [PROFILE=demo|paper|ci]  - run every notebook headless, write outputs + figures to $(OUT)/"
	@echo "make test                         - unit tests + notebooks (ci profile, papermill and nbval) + JupyterLab in a browser"
	@echo "make lab [LAB_PORT=8888]           - JupyterLab on notebooks/ with this venv's kernel, profile demo"
	@echo "make site                         - static workshop site in $(SITE)/ (index + one page per notebook, offline)"
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

# Unit and notebook tests run in two pytest-xdist workers (one torch thread each; a notebook's ci execution and its
# replay share a worker). The JupyterLab browser test runs last: the papermill tests have filled the run store (the
# lab loads those runs) and left the ci executions the site test builds its pages from.
test: $(STAMP) browser-deps
	@rm -rf $(TEST_CACHE)
	@date -u +"[%T] unit tests"
	$(PY) -m pytest -q -n 2 --dist loadfile --durations=15 -m "not notebook" --ignore=tests/test_lab_browser.py tests
	@date -u +"[%T] notebooks (papermill, ci profile)"
	OMP_NUM_THREADS=1 GROKKIT_TEST_CACHE=$(TEST_CACHE) $(PY) -m pytest -q -n 2 --dist loadgroup --no-loadscope-reorder --durations=0 \
		-m notebook tests
	@date -u +"[%T] notebooks under nbval"
	GROKKIT_PROFILE=ci GROKKIT_SOURCE=$(TEST_CACHE)/ci-out GROKKIT_CACHE=$(TEST_CACHE) \
		GROKKIT_OUTPUT=$(TEST_CACHE)/nbval-out GROKKIT_STATIC=0 \
		OMP_NUM_THREADS=1 $(PY) -m pytest -q -n 2 --dist loadfile --nbval-lax -p no:cacheprovider $(NOTEBOOKS)
	@date -u +"[%T] JupyterLab in a browser"
	GROKKIT_TEST_CACHE=$(TEST_CACHE) $(PY) -m pytest -q -s -p no:cacheprovider tests/test_lab_browser.py
	@date -u +"[%T] done"

# JupyterLab on notebooks/: kernel = this venv's python (its python3 kernelspec comes first), GROKKIT_PROFILE=demo
# unless set, lab settings and the save hook from tools/jupyter/ (saved notebooks reopen without widget errors).
lab: $(STAMP)
	@token=$$($(PY) -c "import secrets; print(secrets.token_hex(16))"); \
	echo ""; echo "  JupyterLab on notebooks/ (kernel $(VENV)/bin/python, GROKKIT_PROFILE=$${GROKKIT_PROFILE:-demo}):"; \
	echo "  http://127.0.0.1:$(LAB_PORT)/lab?token=$$token"; echo ""; \
	GROKKIT_PROFILE=$${GROKKIT_PROFILE:-demo} JUPYTER_PREFER_ENV_PATH=1 exec $(VENV)/bin/jupyter lab \
		--config=tools/jupyter/jupyter_lab_config.py --ServerApp.root_dir=notebooks \
		--port=$(LAB_PORT) --ServerApp.port_retries=0 --IdentityProvider.token=$$token \
		$(if $(filter 0,$(shell id -u)),--allow-root --no-browser) $(LAB_ARGS)

# The workshop site: paper-scale replays where a bundle is shipped (data/<notebook>/paper/), demo executions from
# $(OUT)/demo where `make demo` made them (and they are newer than the notebook), else executed here (demo).
site: $(STAMP)
	$(PY) tools/build_site.py --execute --from $(OUT)/demo --work $(OUT)/site --out $(SITE)
	@echo "open $(SITE)/index.html (works offline)"

unit: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadfile --durations=15 -m "not notebook" --ignore=tests/test_lab_browser.py tests

notebooks: $(STAMP)
	$(PY) tools/build_notebooks.py

bench: $(STAMP)
	$(PY) benchmarks/bench_train.py

lint: $(STAMP)
	$(PY) -m ruff check grokkit tests benchmarks tools
	$(PY) tools/build_notebooks.py --check

clean:
	rm -rf $(OUT) $(TEST_CACHE) $(SITE) .pytest_cache
