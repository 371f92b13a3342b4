"""Prepare dbt_project/target/manifest.json at build/test time: `python -m orchestration.prepare_manifest`.

The code location reads this manifest and never parses the dbt project itself (loading must stay fast),
so run this after changing the dbt project (`make manifest`; CI and the test session do it too).
"""

from __future__ import annotations

import sys
from pathlib import Path

from dagster_dbt import DbtCliResource

from orchestration.dbt_args import manifest_path, parse_args
from orchestration.resources.dbt import dbt_environment, dbt_resource
from orchestration.settings import Settings, get_settings


def prepare_manifest(settings: Settings) -> Path:
    """Run `dbt parse` for the settings' target and return the manifest path."""
    project_dir = settings.dbt_project_dir
    resource: DbtCliResource = dbt_resource(settings)
    # Parsing needs the profile's variables but no database connection.
    with dbt_environment(settings.dbt_env()):
        resource.cli(parse_args(settings.dbt_vars()), target_path=project_dir / "target").wait()
    return manifest_path(project_dir)


def main() -> int:
    path = prepare_manifest(get_settings())
    print(f"dbt manifest written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
