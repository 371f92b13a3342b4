"""Pure dbt argument builders, and the dbt project's enum vars against the source contract."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import yaml

from orchestration.dbt_args import (
    as_of_date_env,
    build_args,
    manifest_path,
    nodes_with_tag,
    parse_args,
    partition_env,
    partition_vars,
    run_settings_env,
    vars_arg,
)
from orchestration.settings import PROJECT_ROOT, Settings
from orchestration.sources import schemas


def test_partition_vars_from_aware_window_are_naive_utc() -> None:
    start = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    end = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))  # 00:00 UTC
    assert partition_vars(start, end) == {
        "partition_start": "2026-03-01 00:00:00",
        "partition_end": "2026-03-02 00:00:00",
    }


def test_partition_vars_accepts_naive_datetimes_as_utc() -> None:
    assert partition_vars(dt.datetime(2026, 1, 1), dt.datetime(2026, 1, 8)) == {
        "partition_start": "2026-01-01 00:00:00",
        "partition_end": "2026-01-08 00:00:00",
    }


def test_partition_vars_rejects_empty_window() -> None:
    moment = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with pytest.raises(ValueError, match="must be after start"):
        partition_vars(moment, moment)


def test_vars_arg_is_stable_json() -> None:
    assert vars_arg({"b": 1, "a": ["x"]}) == vars_arg({"a": ["x"], "b": 1}) == '{"a": ["x"], "b": 1}'


def test_partition_env_names_the_run_settings_the_dbt_macro_reads() -> None:
    window = (dt.datetime(2026, 2, 1, tzinfo=dt.UTC), dt.datetime(2026, 2, 4, tzinfo=dt.UTC))
    assert partition_env(*window) == {
        "DBT_RUN_PARTITION_START": "2026-02-01 00:00:00",
        "DBT_RUN_PARTITION_END": "2026-02-04 00:00:00",
    }
    assert as_of_date_env(dt.date(2026, 2, 10)) == {"DBT_RUN_AS_OF_DATE": "2026-02-10"}
    assert run_settings_env({}) == {}
    macro = (PROJECT_ROOT / "dbt_project" / "macros" / "run_settings.sql").read_text()
    assert "env_var('DBT_RUN_' ~ (name | upper), '')" in macro


def test_build_args_carries_settings_vars_which_do_not_change_per_run() -> None:
    settings = Settings(as_of_date=dt.date(2026, 10, 15), internal_email_domains=("corp.example",))
    args = build_args(settings.dbt_vars())
    assert args[:2] == ["build", "--vars"] and len(args) == 3
    assert json.loads(args[2]) == {
        "delinquency_churn_days": 30,
        "internal_email_domains": ["corp.example"],
        "reporting_currency": "USD",
        "trial_conversion_days": 30,
        "usage_lookback_days": 2,
    }
    assert "--target" not in args  # DbtCliResource(target=...) adds it exactly once
    # the as-of date changes every day: it travels in the environment, so the vars (and dbt's parse) stay put
    later = Settings(as_of_date=dt.date(2026, 10, 16), internal_email_domains=("corp.example",))
    assert build_args(later.dbt_vars()) == args
    assert settings.dbt_env()["DBT_RUN_AS_OF_DATE"] == "2026-10-15"


def test_build_args_full_refresh() -> None:
    assert build_args({"a": 1}, full_refresh=True) == ["build", "--vars", '{"a": 1}', "--full-refresh"]


def test_parse_args_use_the_run_vars_and_manifest_path(tmp_path) -> None:
    settings = Settings(as_of_date=dt.date(2026, 10, 15))
    assert parse_args(settings.dbt_vars()) == ["parse", *build_args(settings.dbt_vars())[1:]]
    assert manifest_path(tmp_path) == tmp_path / "target" / "manifest.json"


def test_nodes_with_tag_selects_tagged_models_only() -> None:
    manifest = {
        "nodes": {
            "model.p.a": {"resource_type": "model", "tags": ["daily_partitioned"]},
            "model.p.b": {"resource_type": "model", "tags": []},
            "test.p.c": {"resource_type": "test", "tags": ["daily_partitioned"]},
        }
    }
    assert nodes_with_tag(manifest, "daily_partitioned") == ["model.p.a"]
    assert nodes_with_tag({"nodes": {}}, "daily_partitioned") == []


ENUM_VARS = {
    "subscription_status": ("subscriptions", "status"),
    "plan_interval": ("plans", "interval"),
    "invoice_status": ("invoices", "status"),
    "invoice_payment_status": ("invoices", "payment_status"),
    "fee_payment_status": ("fees", "payment_status"),
    "invoice_type": ("invoices", "invoice_type"),
    "fee_type": ("fees", "fee_type"),
    "billing_time": ("subscriptions", "billing_time"),
    "charge_model": ("charges", "charge_model"),
    "aggregation_type": ("billable_metrics", "aggregation_type"),
    "coupon_type": ("coupons", "coupon_type"),
    "coupon_frequency": ("coupons", "frequency"),
    "applied_coupon_status": ("applied_coupons", "status"),
    "credit_note_reason": ("credit_notes", "reason"),
}
CONTRACT_MAPPINGS = {
    "subscription_status": schemas.SUBSCRIPTION_STATUS,
    "plan_interval": schemas.PLAN_INTERVAL,
    "invoice_status": schemas.INVOICE_STATUS,
    "invoice_payment_status": schemas.INVOICE_PAYMENT_STATUS,
    "fee_payment_status": schemas.FEE_PAYMENT_STATUS,
    "invoice_type": schemas.INVOICE_TYPE,
    "fee_type": schemas.FEE_TYPE,
    "billing_time": schemas.BILLING_TIME,
    "charge_model": schemas.CHARGE_MODEL,
    "aggregation_type": schemas.AGGREGATION_TYPE,
    "coupon_type": schemas.COUPON_TYPE,
    "coupon_frequency": schemas.COUPON_FREQUENCY,
    "applied_coupon_status": schemas.APPLIED_COUPON_STATUS,
    "credit_note_reason": schemas.CREDIT_NOTE_REASON,
}


def test_dbt_enum_vars_match_source_contract() -> None:
    project = yaml.safe_load((PROJECT_ROOT / "dbt_project" / "dbt_project.yml").read_text())
    enums = project["vars"]["source_enums"]
    assert set(enums) == set(CONTRACT_MAPPINGS)
    for name, mapping in CONTRACT_MAPPINGS.items():
        assert enums[name] == mapping, name
        table, column = ENUM_VARS[name]
        assert set(schemas.table(f"lago.{table}").column(column).enum) == set(mapping), name


def test_dbt_project_var_defaults_cover_settings_vars() -> None:
    project = yaml.safe_load((PROJECT_ROOT / "dbt_project" / "dbt_project.yml").read_text())
    assert set(Settings().dbt_vars()) <= set(project["vars"])


def test_dbt_resource_knows_the_version_the_executable_reports_without_asking_it() -> None:
    """dagster-dbt picks its event parser by this version (dbt Core < 2 <= Fusion): it must be the dbt that runs."""
    import subprocess

    from orchestration.resources.dbt import dbt_resource

    resource = dbt_resource(Settings())
    reported = subprocess.run([resource.dbt_executable, "--version"], capture_output=True, text=True, check=True)
    assert f"installed: {resource._cli_version}" in reported.stdout


def test_in_process_flags_carry_what_dagster_dbt_gives_a_subprocess_as_variables(tmp_path) -> None:
    from orchestration.resources.dbt import invocation_flags

    flags = invocation_flags(
        project_dir=tmp_path / "dbt_project",
        profiles_dir=str(tmp_path / "profiles"),
        profile=None,
        target="duckdb",
        target_path=tmp_path / "target" / "run-1",
        indirect_selection="empty",
    )

    def value(flag: str) -> str:
        return flags[flags.index(flag) + 1]

    assert value("--project-dir") == str(tmp_path / "dbt_project")
    assert value("--profiles-dir") == str(tmp_path / "profiles")
    assert value("--target") == "duckdb"
    assert value("--target-path") == value("--log-path") == str(tmp_path / "target" / "run-1")
    assert value("--log-format") == "json"  # the lines DbtCliInvocation parses
    assert value("--indirect-selection") == "empty"
    assert "--no-write-json" in flags and "--no-send-anonymous-usage-stats" in flags
    assert "--profile" not in flags
    without = invocation_flags(
        project_dir=tmp_path,
        profiles_dir=None,
        profile="other",
        target=None,
        target_path=tmp_path,
        indirect_selection=None,
    )
    assert "--indirect-selection" not in without and "--target" not in without and "--profiles-dir" not in without
    assert without[without.index("--profile") + 1] == "other"
