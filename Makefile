# The two commands a newcomer needs: `make demo` and `make test`. Both set up everything.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: venv sysdeps demo test lint bench clean

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

bench: venv
	$(PY) -m pip install -q -e '.[test,bench]'
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) demo-workspace .pytest_cache
