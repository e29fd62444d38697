# straitwatch developer commands. Everything bootstraps itself on a machine that has only Python:
# uv is installed with pip when missing, then `uv sync --frozen` builds .venv from uv.lock.

PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := $(PYTHON) -m uv
endif
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: setup demo test bench lint format clean

$(VENV)/.synced: pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) sync --frozen --all-groups
	@touch $@

setup: $(VENV)/.synced

# The demo scenario through the four Airflow DAGs (airflow dags test, SQLite metadata DB under
# the cache dir), on the embedded PostgreSQL unless DATABASE_URL is set; ends with the verdicts.
demo: setup
	$(BIN)/python scripts/airflow_demo.py

# pytest exits 5 when it collected nothing: that alone is not a failure.
test: setup
	$(BIN)/pytest $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then exit 0; else exit $$rc; fi

bench: setup
	$(BIN)/python -m bench

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build dist
