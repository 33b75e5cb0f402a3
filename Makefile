# The two commands a newcomer needs: `make demo` and `make test`. Both set up everything.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
JLPM   := $(VENV)/bin/jlpm
# The built JupyterLab extension (shipped in the wheel; see docs/sidebar.md).
LABEXT := src/nbops/labextension/static/style.js

.PHONY: venv sysdeps demo test lint bench bench-quick clean labextension lab docs

$(STAMP): pyproject.toml $(LABEXT)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

# JupyterLab (for jlpm and `jupyter labextension build`) before the extension is built.
$(JLPM):
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q 'jupyterlab>=4.6,<5'

# Node (>= 20) builds the sidebar once; pip then finds it built and needs no Node.
$(LABEXT): $(JLPM) labextension/package.json labextension/yarn.lock $(wildcard labextension/src/*.ts labextension/style/*)
	cd labextension && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" jlpm install --immutable
	cd labextension && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" jlpm build:prod
	touch $(LABEXT)

labextension: $(LABEXT)

# JupyterLab on the example notebooks, with the nbops sidebar; on the demo's workspace
# once `make demo` has made one.
lab: venv
	cd example_notebooks && if [ -d ../demo-workspace/.nbops ]; then \
	  export NBOPS_HOME="$(CURDIR)/demo-workspace/.nbops"; fi; ../$(VENV)/bin/jupyter lab

venv: $(STAMP)

# Debian packages the tests need (PostgreSQL for team mode, Chromium for the sidebar); installed when missing.
sysdeps:
	sh .ci/sysdeps

demo: venv
	$(PY) -m nbops.demo

test: venv sysdeps
	cd labextension && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" jlpm test
	$(PY) -m pytest -q

# docs/cli.md and docs/magics.md are generated from the code (tests/test_docs.py checks them).
docs: venv
	PYTHONPATH=src $(PY) -m nbops.cli.reference docs

lint: venv
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy src/nbops

# Benchmarks against MLflow & co. The anchors get their own virtual environments
# (bench/.venv-mlflow: MLflow pins pyarrow<26), created on first use by bench/anchor.py.
# The full run rewrites docs/benchmarks.md; the first one also builds bench/.cache/ (slow).
bench: venv
	$(PY) -m pip install -q -e '.[test,bench]'
	$(PY) bench/run_all.py

bench-quick: venv
	$(PY) -m pip install -q -e '.[test,bench]'
	$(PY) bench/run_all.py --quick

clean:
	rm -rf $(VENV) demo-workspace .pytest_cache labextension/node_modules labextension/lib src/nbops/labextension
