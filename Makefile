# make demo: set up and run a download task end to end.  make test: set up and run every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install check lint types layers test test-fast demo bench console-screenshots clean

# The command-line codecs the tests decode exports with, and the browser the console's tests drive
# (Debian packages; installed when missing — never a browser download).
SYSTEM_TOOLS := zstd lz4 gzip chromium

$(STAMP): pyproject.toml
	@for tool in $(SYSTEM_TOOLS); do command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing with apt-get"; \
		apt-get update -qq && apt-get install -y -qq $$missing; \
	fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint:
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools

types:
	$(BIN)/mypy

layers:
	$(BIN)/lint-imports

# Exactly what CI runs, without installing.
check: lint types layers
	$(BIN)/pytest -n 2 --dist loadgroup

test: install check

test-fast: install
	$(BIN)/pytest -n 2 --dist loadgroup -m "not slow"

demo: install
	$(BIN)/python -m logsluice.cli.demo

# Regenerate the screenshots of docs/console.md: serve with demo data, Chromium via Playwright.
console-screenshots: install
	$(BIN)/python tools/console_screenshots.py

bench: install
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
