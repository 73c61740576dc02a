# Two commands do all the set-up: `make bench` and `make test` create .venv and install the pinned
# dependencies on first use (again only when pyproject.toml changes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=
PYTEST_ARGS ?=

.PHONY: bench test test-quick lint venv java clean check bench-ci gate-proof soak fidelity

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "bench needs Python 3.11 or newer; found $$($(PYTHON) --version 2>&1). Run: make PYTHON=python3.11 ..."; exit 2; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,backends]'
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

# Every test (what CI runs first). Benchmarks that run whole grids are deselected here
# (pyproject's addopts); `make bench-ci` and `make gate-proof` run them. The 20 slowest tests
# are listed at the end: where the suite's minutes go.
test: venv java
	$(BIN)/python -m pytest --durations=20 $(PYTEST_ARGS)

# The regression gate on a small workload: run it, then judge it against this machine's
# reference in reports/references/, measuring that reference first when there is none.
# bench check exits 0: no regression; 1: a regression; 2: a usage or input error; 3: no usable
# reference. make itself exits 2 on any of them: `bench check $(GATE_OUT)/latest` tells them apart.
# `bench reference show` exits 3 when there is none, which makes one here.
GATE_WORKLOAD ?= digits-mlp
GATE_GRID ?= small
GATE_CLUSTERS ?= local,2-node
GATE_REPEATS ?= 3
GATE_OUT ?= reports/check
GATE_RUN = --workload $(GATE_WORKLOAD) --grid $(GATE_GRID) --clusters $(GATE_CLUSTERS) \
	--repeats $(GATE_REPEATS) --no-floor --deploy-rows 0 --trials-per-node 0
check: venv java
	@$(BIN)/bench reference show --workload $(GATE_WORKLOAD) --grid $(GATE_GRID) >/dev/null 2>&1 || { \
	  echo "make check: no reference for this machine yet; measuring one first (test knobs off)"; \
	  env -u BENCH_TEST_SLOWDOWN -u BENCH_TEST_SEED_OFFSET \
	    $(BIN)/bench run $(GATE_RUN) --out $(GATE_OUT)/reference && \
	  $(BIN)/bench reference save $(GATE_OUT)/reference/latest; }
	$(BIN)/bench run $(GATE_RUN) --out $(GATE_OUT)
	$(BIN)/bench check $(GATE_OUT)/latest

# pytest-benchmark: one run of the gate's small grid, then one benchmark per row (profile, mode)
# whose samples are its grid wall times over the repeats; extra_info holds the row's figures and
# the run's summary, so its JSON is a result bench compare/check read. Compare row by row with
# PYTEST_ARGS="--benchmark-compare=EARLIER.json --benchmark-compare-fail=mean:10%".
BENCH_JSON ?= reports/benchmarks/bench-ci.json
bench-ci: venv java
	@mkdir -p $(dir $(BENCH_JSON))
	$(BIN)/python -m pytest tests/benchmarks/test_scaleout.py -m bench_run \
	  --benchmark-json=$(BENCH_JSON) $(PYTEST_ARGS)

# The gate's proof (about an hour): A/A checks, a 20 % slowdown, a change of results.
gate-proof: venv java
	@mkdir -p reports/benchmarks
	$(BIN)/python -m pytest tests/benchmarks/test_gate_proof.py -m bench_run -s \
	  --benchmark-json=reports/benchmarks/gate-proof.json $(PYTEST_ARGS)

# The soak of faults (4-8 minutes): a worker killed in each of five runs; nothing lost or left.
# The fidelity check of mnist-convnet on the real MNIST (tens of minutes; bench never downloads
# it): BENCH_MNIST=/path/to/the/four/idx/files make fidelity [ARGS="--params neurons=1024"]
fidelity: venv
	@test -n "$$BENCH_MNIST" || { echo "set BENCH_MNIST to a folder with the four MNIST IDX files"; exit 2; }
	$(BIN)/python tests/benchmarks/fidelity_mnist.py $(ARGS)

soak: venv java
	@mkdir -p reports/benchmarks
	$(BIN)/python -m pytest tests/benchmarks/test_soak.py -m bench_run -s \
	  --benchmark-json=reports/benchmarks/soak.json $(PYTEST_ARGS)

# The quick loop: no Spark cluster, no TensorFlow training.
test-quick: venv
	$(BIN)/python -m pytest -m "not spark and not tensorflow" $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check bench tests
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
