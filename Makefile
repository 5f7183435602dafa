# ScanGuard — two commands: `make run` (the station service) and `make test` (the test suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint train bench-kernels system-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test,train,dev]"
	touch $(STAMP)

# Debian packages the browser and store tests need (chromium for the console, postgresql for the store).
system-deps:
	@if [ ! -x /usr/bin/chromium ] || ! command -v pg_ctlcluster >/dev/null 2>&1; then \
		if [ "$$(id -u)" = "0" ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium postgresql >/dev/null; \
		else \
			echo "chromium/postgresql missing: run 'sudo make system-deps'"; exit 1; \
		fi; \
	fi

# The station service on 127.0.0.1:8000 (SCANGUARD_PORT) with the shipped model, the SQLite
# store under ./data and the DICOM receiver; prints the console URL and a new operator token.
run: $(STAMP)
	$(BIN)/scanguard serve --load-samples --operator-token

test: $(STAMP) system-deps
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy scanner kernels detect models service validation scanguard

train: $(STAMP)
	$(BIN)/scanguard train

bench-kernels: $(STAMP)
	$(BIN)/python benchmarks/kernels.py

clean:
	rm -rf $(VENV) build *.egg-info
