"""Pure dbt argument builders, and the dbt project's enum vars against the source contract."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import yaml

from orchestration.dbt_args import build_args, manifest_path, nodes_with_tag, parse_args, partition_vars, vars_arg
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


def test_build_args_carries_settings_vars() -> None:
    settings = Settings(as_of_date=dt.date(2026, 10, 15), internal_email_domains=("corp.example",))
    args = build_args(settings.dbt_vars())
    assert args[:2] == ["build", "--vars"] and len(args) == 3
    assert json.loads(args[2]) == {
        "as_of_date": "2026-10-15",
        "delinquency_churn_days": 30,
        "internal_email_domains": ["corp.example"],
        "reporting_currency": "USD",
        "trial_conversion_days": 30,
        "usage_lookback_days": 2,
    }
    assert "--target" not in args  # DbtCliResource(target=...) adds it exactly once


def test_build_args_merges_partition_window_and_full_refresh() -> None:
    window = (dt.datetime(2026, 2, 1, tzinfo=dt.UTC), dt.datetime(2026, 2, 4, tzinfo=dt.UTC))
    args = build_args({"as_of_date": "2026-02-10"}, partition_window=window, full_refresh=True)
    assert args[-1] == "--full-refresh"
    assert json.loads(args[2]) == {
        "as_of_date": "2026-02-10",
        "partition_start": "2026-02-01 00:00:00",
        "partition_end": "2026-02-04 00:00:00",
    }


def test_parse_args_and_manifest_path(tmp_path) -> None:
    assert parse_args() == ["parse"]
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
