# Two commands do all the set-up: `make bench` and `make test` create .venv and install the pinned
# dependencies on first use (again only when pyproject.toml changes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=
PYTEST_ARGS ?=

.PHONY: bench test test-quick lint venv java clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
	  { echo "bench needs Python 3.10 or newer; found $$($(PYTHON) --version 2>&1). Run: make PYTHON=python3.11 ..."; exit 2; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

java:
	@if [ -n "$$JAVA_HOME" ] && [ -x "$$JAVA_HOME/bin/java" ]; then :; \
	elif command -v java >/dev/null 2>&1; then :; \
	else echo "Java 17 or newer is needed by Spark and was not found (PATH, JAVA_HOME)."; \
	     echo "Install it, e.g.: sudo apt-get install openjdk-17-jre-headless"; exit 2; fi

# The main job: the default workload and grid on the local, 2-node and 13-node profiles.
bench: venv java
	$(BIN)/bench run $(ARGS)

# Everything CI runs.
test: venv java
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The quick loop: no Spark cluster, no TensorFlow training.
test-quick: venv
	$(BIN)/python -m pytest -m "not spark and not tensorflow" $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check bench tests

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
