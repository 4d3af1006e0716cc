# Two commands on a fresh machine:  make demo   and   make test
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin

.PHONY: demo replay test bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

# The service on the bundled dumps (offline): one dump per 15 s, feeds on :8080, digests to ./demo-outbox.
demo: $(VENV)/.installed
	$(BIN)/icesco-monitor serve --demo

# One pass: replay the bundled dumps into ./icesco-monitor.db, then show what was stored.
replay: $(VENV)/.installed
	$(BIN)/icesco-monitor crawl --replay
	$(BIN)/icesco-monitor articles --limit 50
	$(BIN)/icesco-monitor status

# The whole test suite, then the linters.
test: $(VENV)/.installed
	$(PY) -m pytest -q
	$(BIN)/ruff check crawler monitor feeds tests
	$(BIN)/ruff format --check crawler monitor feeds tests
	$(BIN)/mypy crawler monitor feeds

bench: $(VENV)/.installed
	$(PY) tests/benchmarks/run.py
	$(PY) tests/benchmarks/wordpress_cost.py

clean:
	rm -rf $(VENV) icesco-monitor.db* icesco-monitor-demo.db* demo-outbox bench-out .pytest_cache .mypy_cache .ruff_cache
