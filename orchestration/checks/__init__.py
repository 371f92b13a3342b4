"""Data quality: Great Expectations suites as asset checks, and dbt source freshness as freshness policies."""

from orchestration.checks.freshness import apply_freshness_policies, build_freshness_policies
from orchestration.checks.quality import GX_CHECK_NAME, asset_keys_of, build_quality_checks, gx_check_key

__all__ = [
    "GX_CHECK_NAME",
    "apply_freshness_policies",
    "asset_keys_of",
    "build_freshness_policies",
    "build_quality_checks",
    "gx_check_key",
]
