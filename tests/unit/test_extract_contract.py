"""The contract check (vectorised in an in-memory DuckDB), cursor arithmetic and sources.yaml parsing."""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa
import pytest

from orchestration.extract.contract import SchemaDriftError, check_columns, validation_sql
from orchestration.extract.state import cursor_to_json, lower_bound
from orchestration.sources.config import load_sources_config
from orchestration.sources.schemas import table

PLANS = table("lago.plans")
EVENTS = table("keycloak.event_entity")


def validate(source_table, rows: list[dict], schema: pa.Schema) -> list[dict]:
    data = pa.Table.from_pylist(rows, schema=schema)
    con = duckdb.connect()
    con.register("rows_in", data)
    return con.sql(validation_sql(source_table, "rows_in", data.schema)).to_arrow_table().to_pylist()


def plan(**overrides: object) -> dict:
    return {
        "id": "plan-1",
        "code": "pro_monthly",
        "name": "Pro",
        "interval": "1",
        "amount_cents": "4900",
        "amount_currency": "USD",
        "trial_period": "14",
        "pay_in_advance": "true",
        "created_at": "2026-01-01 00:00:00",
        "updated_at": "2026-01-02 00:00:00",
        "deleted_at": None,
    } | overrides


TEXT = pa.schema([pa.field(c, pa.string()) for c in PLANS.column_names])


def test_good_rows_are_typed_and_hashed() -> None:
    [row] = validate(PLANS, [plan()], TEXT)
    assert row["_reject_reason"] is None and len(row["_record_hash"]) == 16
    assert (row["interval"], row["amount_cents"], row["trial_period"], row["pay_in_advance"]) == (1, 4900, 14.0, True)
    assert row["updated_at"] == dt.datetime(2026, 1, 2)


def test_null_in_an_optional_checked_column_is_a_good_row() -> None:
    """A NULL where a check applies (e.g. the amount of a percentage coupon, checked >= 0) passes every check:
    the row must be hashed, or the merge cannot tell its versions apart."""
    coupons = table("lago.applied_coupons")
    text = pa.schema([pa.field(c, pa.string()) for c in coupons.column_names])
    row = {c: None for c in coupons.column_names} | {
        "id": "ac-1",
        "coupon_id": "c-1",
        "customer_id": "cus-1",
        "status": "0",
        "percentage_rate": "20",
        "frequency": "1",
        "created_at": "2026-01-01 00:00:00",
        "updated_at": "2026-01-01 00:00:00",
    }
    [good] = validate(coupons, [row], text)
    assert good["amount_cents"] is None and good["_reject_reason"] is None and len(good["_record_hash"]) == 16


def test_hash_depends_on_content_only() -> None:
    typed = pa.schema([pa.field(c.name, c.type) for c in PLANS.columns])
    from_text = validate(PLANS, [plan()], TEXT)[0]["_record_hash"]
    typed_row = {c.name: v for c, v in zip(PLANS.columns, validate(PLANS, [plan()], TEXT)[0].values(), strict=False)}
    assert validate(PLANS, [typed_row], typed)[0]["_record_hash"] == from_text
    assert validate(PLANS, [plan(name="Pro+")], TEXT)[0]["_record_hash"] != from_text


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"interval": "7"}, "interval", "field interval: unknown enum code 7"),
        ({"amount_cents": "12.5.1"}, "amount_cents", "field amount_cents: cannot parse '12.5.1' as bigint"),
        ({"updated_at": "2024-13-01"}, "updated_at", "field updated_at: cannot parse '2024-13-01' as timestamp"),
        ({"code": None}, "code", "field code: required value missing"),
        ({"id": ""}, "id", "field id: required value missing"),
        # the first broken field (in column order) is the one reported
        ({"code": None, "interval": "9"}, "code", "field code: required value missing"),
    ],
)
def test_contract_breaks_name_field_and_reason(overrides: dict, field: str, reason: str) -> None:
    [row] = validate(PLANS, [plan(**overrides)], TEXT)
    assert (row["_reject_field"], row["_reject_reason"]) == (field, reason)
    assert row["_record_hash"] is None and '"code"' in row["_payload"]


def test_missing_columns_raise_and_extra_ones_are_returned() -> None:
    assert check_columns(PLANS, [*PLANS.column_names, "new_col"], "demo") == ["new_col"]
    with pytest.raises(SchemaDriftError, match=r"source 'lago' \(demo\), entity 'plans'.*'amount_cents'"):
        check_columns(PLANS, [c for c in PLANS.column_names if c != "amount_cents"], "demo")


def test_lookback_applies_to_the_first_cursor_column() -> None:
    customers = table("lago.customers")
    cursor = {"updated_at": dt.datetime(2026, 1, 1, 12), "id": "x"}
    assert lower_bound(customers, cursor) == ("updated_at", dt.datetime(2026, 1, 1, 11))
    assert lower_bound(EVENTS, {"event_time": 10_000_000_000, "id": "e"}) == (
        "event_time",
        10_000_000_000 - 6 * 3600_000,
    )
    assert lower_bound(customers, None) is None
    assert cursor_to_json(cursor) == '{"updated_at": "2026-01-01T12:00:00", "id": "x"}'


def test_sources_yaml_defaults_to_demo(tmp_path) -> None:
    assert {c.mode for c in load_sources_config(tmp_path / "absent.yaml").values()} == {"demo"}
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n  lago: {mode: database, url: 'postgresql://u@h/lago'}\n")
    configs = load_sources_config(path)
    assert (configs["lago"].mode, configs["lago"].url, configs["litellm"].mode) == (
        "database",
        "postgresql://u@h/lago",
        "demo",
    )
    path.write_text("sources:\n  lago: {mode: database}\n")
    with pytest.raises(ValueError, match="needs a `url:`"):
        load_sources_config(path)
