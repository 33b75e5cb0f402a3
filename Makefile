# The two commands a newcomer needs: `make demo` and `make test`. Both set up everything.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: venv sysdeps demo test lint bench bench-quick clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

# Debian packages the tests need (PostgreSQL for team mode); installed when missing.
sysdeps:
	sh .ci/sysdeps

demo: venv
	$(PY) -m nbops.demo

test: venv sysdeps
	$(PY) -m pytest -q

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
	rm -rf $(VENV) demo-workspace .pytest_cache
