"""Loading the code location defines assets without importing the libraries only their execution needs.

Each library below adds from a tenth of a second (duckdb) to seconds (pandas) to every code-server start
(bench/bench_code_location.py); orchestration/lazy.py describes how modules defer them. jinja2 and requests are
not listed: dbt-core, which dagster-dbt imports, loads them anyway.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXECUTION_ONLY = (
    "pandas",
    "numpy",
    "pyarrow",
    "duckdb",
    "psycopg",
    "adbc_driver_manager",
    "adbc_driver_postgresql",
    "xlsxwriter",
    "matplotlib",
    "weasyprint",
    "great_expectations",
    "sklearn",
    "scipy",
    "statsmodels",
    "joblib",
    "models_ml.anomalies",
    "models_ml.churn",
    "models_ml.forecast",
    "models_ml.recommendations",
    "models_ml.retention",
)
LOAD_AND_REPORT = f"""
import json, sys
import orchestration.definitions as definitions
definitions.defs.get_repository_def()  # what a code server builds: jobs, schedules, asset graph
print(json.dumps([name for name in {EXECUTION_ONLY!r} if name in sys.modules]))
"""
# A real deployment's shape: PostgreSQL warehouse, sources in api and database mode (sources.yaml.example).
PRODUCTION_ENV = {
    "WAREHOUSE": "postgres",
    "WAREHOUSE_URL": "postgresql://reader@warehouse.invalid:5432/warehouse",
    "SOURCES_CONFIG": str(ROOT / "sources.yaml.example"),
}


def imported_by_loading(env: dict[str, str]) -> list[str]:
    """The EXECUTION_ONLY modules a fresh interpreter has imported after loading `defs` (nothing else runs)."""
    result = subprocess.run(
        [sys.executable, "-c", LOAD_AND_REPORT],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("env", [{}, PRODUCTION_ENV], ids=["demo_duckdb", "postgres_api_sources"])
def test_loading_the_code_location_imports_no_execution_only_library(dbt_manifest_path: Path, env) -> None:
    assert dbt_manifest_path.exists()
    imported = imported_by_loading(env)
    assert imported == [], (
        f"loading the code location imported {imported}: find the importer with "
        "`python -X importtime -c 'import orchestration.definitions' 2>&1 | less` and defer it (orchestration/lazy.py)"
    )
