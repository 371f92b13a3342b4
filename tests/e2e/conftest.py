"""End-to-end fixtures: the prepared dbt manifest is shared with the integration tests."""

from tests.integration.conftest import dbt_manifest_path  # noqa: F401  (re-exported fixture)
