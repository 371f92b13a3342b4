# Two set-up commands: `make demo` (the main job on DuckDB) and `make test` (the suite on DuckDB and PostgreSQL).
# Both create the environment when it is missing.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MANIFEST := dbt_project/target/manifest.json
export DAGSTER_HOME ?= $(CURDIR)/.data/dagster_home

.PHONY: demo test install manifest ui lint format bench clean

demo: $(MANIFEST)
	@mkdir -p "$(DAGSTER_HOME)"
	$(BIN)/python -m orchestration.demo

# Two workers, one per engine (tests/conftest.py groups the tests by engine); override with PYTEST_ARGS=.
PYTEST_ARGS ?= -n 2 --dist loadgroup
# pytest exits 5 when it collected nothing: that is a failure here, not a pass.
test: $(MANIFEST)
	@$(BIN)/python -m pytest $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi; exit $$status

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[dev]'
	@touch $(STAMP)

# The dbt manifest is prepared here (build/test time), never when the code location loads.
manifest: $(MANIFEST)

$(MANIFEST): $(STAMP) $(shell find dbt_project -name '*.sql' -o -name '*.yml' -o -name '*.csv' 2>/dev/null | grep -v '/target/')
	$(BIN)/python -m orchestration.prepare_manifest

ui: $(MANIFEST)
	@mkdir -p "$(DAGSTER_HOME)"
	$(BIN)/dagster dev -w workspace.yaml

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(MANIFEST)
	@for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf .data reports dbt_project/target dbt_project/logs
