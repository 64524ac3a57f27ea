# findna: `make test` and `make demo` each set up .venv on a fresh machine (created if missing, pinned
# requirements installed, findna installed editable), then act.
SHELL  := /bin/bash
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.findna-installed
# DEMO_OUT: where `make demo` writes; unset, the first of runs/demo, runs/demo-2, ... that does not exist (nothing is deleted)
ifndef DEMO_OUT
DEMO_OUT := $(shell d=runs/demo; n=1; while [ -e $$d ]; do n=$$((n+1)); d=runs/demo-$$n; done; echo $$d)
endif

.PHONY: install test check-sync nbtest pytest demo bench clean-runs lab docs check-browser

$(STAMP): requirements.txt setup.py settings.ini
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

install: $(STAMP)

## The test command (README; .ci/run calls exactly this).
test: check-sync nbtest pytest

# Notebooks must be clean and the exported library in sync with them: snapshot, clean + export, compare.
check-sync: $(STAMP)
	@snap=$$(mktemp -d); cp -r nbs findna $$snap/; \
	PATH="$(CURDIR)/$(BIN):$$PATH" nbdev_clean && PATH="$(CURDIR)/$(BIN):$$PATH" nbdev_export || exit 1; \
	if ! diff -rq -x __pycache__ $$snap/nbs nbs || ! diff -rq -x __pycache__ $$snap/findna findna; then \
	  echo "check-sync: nbdev_clean/nbdev_export changed the files above (now rewritten in place):"; \
	  echo "  the notebooks were not clean or findna/ was out of sync with nbs/. Review and commit them."; \
	  rm -rf $$snap; exit 1; fi; rm -rf $$snap
	@if [ "$${CI:-}" = "true" ]; then git diff --exit-code -- nbs findna && test -z "$$(git status --porcelain -- nbs findna)" \
	  || { echo "check-sync: the committed tree is not clean/in sync (see above)"; exit 1; }; fi
	@echo "check-sync: notebooks clean, findna/ in sync with nbs/"

# Every library and run notebook, top to bottom (cells flagged slow/cuda are skipped; see settings.ini tst_flags).
nbtest: $(STAMP)
	OMP_NUM_THREADS=1 PATH="$(CURDIR)/$(BIN):$$PATH" nbdev_test --n_workers 2 --timing

pytest: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest

## The main job: a few minutes of self-distillation pretraining (`small` preset) on the bundled demo genome;
## chr20_b is held out for validation. Writes $(DEMO_OUT)/{config.json,metrics.jsonl,checkpoints/,teacher/,plots/}.
demo: $(STAMP)
	@echo "demo run folder: $(DEMO_OUT) (a new folder; an existing run is never deleted or overwritten)"
	$(BIN)/findna-pretrain --preset small --steps 100 --batch-size 8 --lr 2e-3 --warmup-frac 0.1 --teacher-momentum 0.97 \
	    --val-chroms chr20_b --log-every 10 --eval-every 50 --eval-batches 4 --ckpt-every 50 --out $(DEMO_OUT)
	@echo; echo "demo run folder: $(DEMO_OUT) (config.json, metrics.jsonl, checkpoints/, teacher/, plots/*.png; the summary above says what to try next)"

## JupyterLab on the notebooks, from the project's venv (.jupyter/jupyter_server_config.py): a notebook of nbs/ is saved
## clean and without outputs (committed notebooks carry none; `make docs` shows them run), so Run All + save leaves
## `git diff` empty; opening one does not mark it modified. As root (containers) --allow-root is added; on a remote
## machine: make lab LAB_FLAGS="--no-browser --ip=0.0.0.0".
LAB_PORT  ?= 8888
LAB_FLAGS ?=
lab: $(STAMP)
	JUPYTER_CONFIG_DIR="$(CURDIR)/.jupyter" PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/jupyter lab \
	    --ServerApp.root_dir="$(CURDIR)" --port=$(LAB_PORT) $$( [ "$$(id -u)" = 0 ] && echo --allow-root ) $(LAB_FLAGS)

## The documentation site: every notebook executed (figures included) and rendered by MkDocs into _site/ (a few minutes;
## not part of `make test`). MkDocs lives in its own .venv-docs (requirements-docs.txt explains why not nbdev's site).
## View it by opening _site/index.html in a browser (works as files, offline); search needs it served over http:
## python3 -m http.server -d _site 8000, then http://localhost:8000.
DOCS_VENV := .venv-docs
$(DOCS_VENV)/.installed: requirements-docs.txt
	@test -x $(DOCS_VENV)/bin/python || $(PYTHON) -m venv $(DOCS_VENV)
	$(DOCS_VENV)/bin/python -m pip install --quiet -r requirements-docs.txt
	@touch $@
docs: $(STAMP) $(DOCS_VENV)/.installed
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python docs/build_site.py _docs_src
	NO_MKDOCS_2_WARNING=1 $(DOCS_VENV)/bin/mkdocs build --clean -f mkdocs.yml
	@echo; echo "documentation site: open $(CURDIR)/_site/index.html in a browser"; \
	  echo "  (for search, serve it: python3 -m http.server -d _site 8000, then http://localhost:8000)"

## The site and JupyterLab checked in a real browser (not part of `make test`; Chromium from the system, e.g.
## apt-get install chromium, driven by Playwright from .venv-docs): scripts/check_site.py opens _site/index.html as a
## file and visits every page (links, no local paths or tracebacks, no empty headings, offline); scripts/check_lab.py
## runs and saves notebooks in JupyterLab on a copy of the repository, then `CI=true make check-sync` must pass there.
check-browser: $(STAMP) $(DOCS_VENV)/.installed
	@test -f _site/index.html || { echo "check-browser: no _site/index.html; run make docs first"; exit 1; }
	$(DOCS_VENV)/bin/python scripts/check_site.py _site
	$(DOCS_VENV)/bin/python scripts/check_lab.py

## Benchmarks (not tests): tables of measured ratios; run on an idle machine.
bench: $(STAMP)
	$(BIN)/python bench/run_all.py
