"""Usage, engagement, cost/margin, KPI and feature marts on the simulated company, on each engine.

- usage totals per day x customer x model equal a direct aggregation of the de-duplicated source rows;
- DAU on sample days equals a recount from the raw login events and requests;
- every paying customer-month of fct_mrr has exactly one customer_margin_monthly row with the same MRR;
- no leakage: customer_features_monthly built from a simulator cut at a month end has the same snapshot for that
  month as after advancing the same warehouse by 6 more weeks of extracted data and rebuilding;
- incremental equivalence: a week of daily partitioned runs (with late rows and, on DuckDB, duplicates) equals a
  full refresh, and re-running a partition changes nothing (the window passed as the Dagster asset passes it, in
  the environment, and as --vars for the re-run); the models' data tests in a daily run check its days.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from dataclasses import replace
from unittest import mock

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import yaml

from orchestration.dbt_args import partition_env, partition_vars
from orchestration.resources.warehouse import WarehouseResource
from orchestration.settings import Settings
from tests.conftest import SMALL_COMPANY
from tests.integration.simulated_warehouse import (
    dbt_node_statuses,
    extract_simulated,
    load_into_raw,
    run_dbt,
    simulator_for,
)

pytestmark = pytest.mark.slow

USAGE_MODELS = (
    "int_usage__requests",
    "int_usage__service_daily",
    "int_usage__hourly",
    "int_usage__user_daily",
    "int_users__activity_daily",
    "fct_usage_daily",
    "service_performance_daily",
    "usage_heatmap",
    "cost_by_model_monthly",
    "customer_margin_monthly",
    "dim_users",
    "engagement_daily",
    "acquisition_monthly",
    "user_segments",
    "kpi_monthly",
    "customer_features_monthly",
)
# The daily-partitioned (incremental) models and the keys that order them for comparison.
PARTITIONED_MODELS = {
    "intermediate.int_usage__requests": "request_id",
    "intermediate.int_usage__service_daily": "usage_date, service, provider",
    "intermediate.int_usage__hourly": "usage_hour",
    "intermediate.int_usage__user_daily": "usage_date, user_id",
    "marts.fct_usage_daily": "usage_date, customer_id, service, provider, model",
}
YAML_FILES = (
    "models/intermediate/usage/_int_usage__models.yml",
    "models/marts/usage/_usage__models.yml",
    "models/marts/engagement/_engagement__models.yml",
    "models/marts/kpi/_kpi__models.yml",
    "models/marts/features/_features__models.yml",
)
INTERNAL_DOMAINS = ("internal.example.com",)
LEAKAGE_MONTH = dt.date(2026, 8, 1)  # cut at its last day; SMALL_COMPANY runs to 2026-10-15
WEEK_DAYS = 7
USAGE_SETTLE_DAYS = 2  # LiteLLM rows arrive up to ~40 h late (the extract's lookback is 2 days)
SPEND_LOGS = "litellm.LiteLLM_SpendLogs"


def query_df(settings: Settings, sql: str) -> pd.DataFrame:
    return WarehouseResource.from_settings(settings).query_df(sql)


def rows(settings: Settings, relation: str, order_by: str) -> list[tuple]:
    """All rows of a relation, floats rounded so that equal sums in another order compare equal."""
    frame = query_df(settings, f"select * from {relation} order by {order_by}")
    return [
        tuple(round(v, 9) if isinstance(v, float) else v for v in record)
        for record in frame.astype(object).where(frame.notna(), None).itertuples(index=False)
    ]


def internal_users_and_customers(settings: Settings) -> tuple[set[str], set[str]]:
    """Internal customer external ids and user ids, recomputed from raw (e-mail domains)."""
    customers = query_df(settings, "select external_id, email from raw.lago_customers")
    domain = customers["email"].fillna("").str.split("@").str[-1].str.lower()
    internal_customers = set(customers.loc[domain.isin(INTERNAL_DOMAINS), "external_id"])
    users = query_df(settings, "select id, email from raw.keycloak_user_entity")
    user_domain = users["email"].fillna("").str.split("@").str[-1].str.lower()
    attributes = query_df(
        settings, "select user_id, value from raw.keycloak_user_attribute where name = 'customer_external_id'"
    )
    internal_users = set(users.loc[user_domain.isin(INTERNAL_DOMAINS), "id"]) | set(
        attributes.loc[attributes["value"].isin(internal_customers), "user_id"]
    )
    return internal_customers, internal_users


def test_usage_models_build_and_pass_their_tests(built_warehouse: Settings) -> None:
    statuses = dbt_node_statuses(built_warehouse)
    mine = {
        unique_id: status
        for unique_id, status in statuses.items()
        if any(f".{model}" in unique_id for model in USAGE_MODELS)
    }
    assert {f"model.saas_metrics.{m}" for m in USAGE_MODELS} <= set(mine), "a usage model was not built"
    failed = {unique_id: status for unique_id, status in mine.items() if status not in ("success", "pass")}
    assert not failed, failed


def test_every_usage_model_column_is_documented(built_warehouse: Settings) -> None:
    documented: dict[str, set[str]] = {}
    for path in YAML_FILES:
        for model in yaml.safe_load((built_warehouse.dbt_project_dir / path).read_text())["models"]:
            documented[model["name"]] = {c["name"] for c in model.get("columns", []) if c.get("description")}
    assert set(USAGE_MODELS) <= set(documented)
    for model in USAGE_MODELS:
        schema = "intermediate" if model.startswith("int_") else "marts"
        columns = set(query_df(built_warehouse, f"select * from {schema}.{model} limit 0").columns)
        undocumented, stale = columns - documented[model], documented[model] - columns
        assert not undocumented and not stale, f"{model}: undocumented {undocumented}, stale {stale}"


def test_usage_totals_equal_deduplicated_source_rows(built_warehouse: Settings) -> None:
    raw = query_df(
        built_warehouse,
        'select request_id, "startTime" as started_at, end_user, "user" as user_id, model, status, spend, '
        "prompt_tokens, completion_tokens, _loaded_at from raw.litellm_spendlogs",
    )
    internal_customers, internal_users = internal_users_and_customers(built_warehouse)
    raw = raw.sort_values("_loaded_at").drop_duplicates("request_id", keep="last")
    raw = raw[~raw["end_user"].isin(internal_customers) & ~raw["user_id"].isin(internal_users)]
    raw["usage_date"] = pd.to_datetime(raw["started_at"]).dt.date
    raw["customer_id"] = raw["end_user"].replace("", None)
    raw["tokens"] = raw["prompt_tokens"].fillna(0) + raw["completion_tokens"].fillna(0)
    raw["failed"] = (raw["status"] == "failure").astype(int)
    expected = (
        raw.groupby(["usage_date", "customer_id", "model"], dropna=False)
        .agg(requests=("request_id", "size"), failed=("failed", "sum"), tokens=("tokens", "sum"), cost=("spend", "sum"))
        .reset_index()
    )
    actual = query_df(
        built_warehouse,
        "select usage_date, customer_id, model, sum(requests) as requests, sum(failed_requests) as failed, "
        "sum(total_tokens) as tokens, sum(cost_usd) as cost from marts.fct_usage_daily "
        "group by usage_date, customer_id, model",
    )
    actual["usage_date"] = pd.to_datetime(actual["usage_date"]).dt.date
    merged = expected.merge(actual, on=["usage_date", "customer_id", "model"], how="outer", indicator=True)
    assert len(expected) > 1000, "the simulated company should have usage"
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"].head()
    for column in ("requests", "failed", "tokens"):
        assert (merged[f"{column}_x"].astype(int) == merged[f"{column}_y"].astype(int)).all(), column
    # the warehouse sums exact decimal(18, 10) costs; the source sums doubles
    assert ((merged["cost_x"] - merged["cost_y"]).abs() <= 1e-8 + 1e-9 * merged["cost_x"].abs()).all()


def test_dau_equals_recount_from_events(built_warehouse: Settings) -> None:
    _, internal_users = internal_users_and_customers(built_warehouse)
    service_accounts = set(
        query_df(
            built_warehouse,
            "select id from raw.keycloak_user_entity where coalesce(service_account_client_link, '') <> ''",
        )["id"]
    )
    as_of = built_warehouse.data_as_of()
    sample_days = [as_of - dt.timedelta(days=n) for n in (0, 1, 13, 45, 200)]
    logins = query_df(built_warehouse, "select user_id, event_time from raw.keycloak_event_entity where type = 'LOGIN'")
    logins["day"] = pd.to_datetime(logins["event_time"], unit="ms").dt.date
    requests = query_df(
        built_warehouse, 'select "user" as user_id, "startTime" as started_at from raw.litellm_spendlogs'
    )
    requests["day"] = pd.to_datetime(requests["started_at"]).dt.date
    known_users = set(query_df(built_warehouse, "select id from raw.keycloak_user_entity")["id"])
    active = pd.concat([logins[["user_id", "day"]], requests[["user_id", "day"]]])
    active = active[
        active["user_id"].isin(known_users - internal_users - service_accounts) & active["user_id"].fillna("").ne("")
    ]
    engagement = query_df(built_warehouse, "select activity_date, dau, mau from marts.engagement_daily")
    engagement["activity_date"] = pd.to_datetime(engagement["activity_date"]).dt.date
    by_day = engagement.set_index("activity_date")
    for day in sample_days:
        expected_dau = active.loc[active["day"] == day, "user_id"].nunique()
        window = active[(active["day"] > day - dt.timedelta(days=30)) & (active["day"] <= day)]
        assert by_day.loc[day, "dau"] == expected_dau, day
        assert by_day.loc[day, "mau"] == window["user_id"].nunique(), day
    assert by_day["dau"].sum() > 0


def test_every_paying_customer_month_has_one_margin_row_with_its_mrr(built_warehouse: Settings) -> None:
    checked = query_df(
        built_warehouse,
        """
        select f.customer_id, f.month, f.mrr, count(m.customer_id) as margin_rows, min(m.mrr) as margin_mrr,
               max(m.mrr) as margin_mrr_max
        from marts.fct_mrr as f
        left join marts.customer_margin_monthly as m on f.customer_id = m.customer_id and f.month = m.month
        where f.mrr > 0
        group by f.customer_id, f.month, f.mrr
        """,
    )
    assert len(checked) > 100
    assert (checked["margin_rows"] == 1).all(), checked[checked["margin_rows"] != 1].head()
    assert (checked["mrr"] == checked["margin_mrr"]).all() and (checked["mrr"] == checked["margin_mrr_max"]).all()


@pytest.fixture(scope="module")
def month_end_cut(make_settings) -> tuple[Settings, pd.DataFrame]:
    """A warehouse whose sources stop at the end of LEAKAGE_MONTH (dbt as-of: the next day, so the month is closed),
    fully built; returns its settings and that month's feature snapshot, taken before anything else changes it.

    Usage rows arrive at the source up to ~40 h after they start, so the cut's spend logs are those started by the
    month end as known USAGE_SETTLE_DAYS later: the month's data complete, nothing stamped after it."""
    cut_day = dt.date(LEAKAGE_MONTH.year, LEAKAGE_MONTH.month + 1, 1) - dt.timedelta(days=1)
    settings = replace(make_settings("usage_month_end_cut"), as_of_date=cut_day + dt.timedelta(days=1))
    simulator = simulator_for(settings)
    tables = simulator.source_tables(cut_day)
    settled = simulator.source_tables(cut_day + dt.timedelta(days=USAGE_SETTLE_DAYS))[SPEND_LOGS]
    month_end = pa.scalar(dt.datetime.combine(cut_day + dt.timedelta(days=1), dt.time()), settled["startTime"].type)
    tables[SPEND_LOGS] = settled.filter(pc.less(settled["startTime"], month_end))
    load_into_raw(settings, tables)
    result = run_dbt(settings, ["build", "--select", "+customer_features_monthly", "--exclude", "test_type:data"])
    assert result.returncode == 0, result.stdout[-5000:]
    return settings, feature_snapshot(settings, LEAKAGE_MONTH)


def feature_snapshot(settings: Settings, month: dt.date) -> pd.DataFrame:
    frame = query_df(
        settings,
        f"select * from marts.customer_features_monthly where snapshot_month = date '{month.isoformat()}' "
        "order by customer_id",
    )
    return frame.reset_index(drop=True)


def day_window(first_day: dt.date, end_day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """A Dagster partition window [first_day, end_day) (UTC)."""
    return dt.datetime.combine(first_day, dt.time(), dt.UTC), dt.datetime.combine(end_day, dt.time(), dt.UTC)


def run_partitioned(
    settings: Settings,
    *args: str,
    window: tuple[dt.datetime, dt.datetime] | None = None,
    window_as_vars: bool = False,
    command: str = "run",
) -> subprocess.CompletedProcess:
    """dbt on the daily-partitioned models; the window reaches dbt as the Dagster asset passes it (environment,
    orchestration/dbt_args.py partition_env) or, with `window_as_vars`, as --vars (a hand-run CLI)."""
    env = partition_env(*window) if window and not window_as_vars else {}
    extra_vars = partition_vars(*window) if window and window_as_vars else None
    with mock.patch.dict(os.environ, env):  # run_dbt passes os.environ on to dbt
        result = run_dbt(settings, [command, "--select", "tag:daily_partitioned", *args], extra_vars=extra_vars)
    assert result.returncode == 0, result.stdout[-5000:]
    return result


def test_daily_runs_over_a_week_equal_a_full_refresh(month_end_cut) -> None:
    settings, _ = month_end_cut
    simulator = simulator_for(settings)
    since = settings.as_of_date - dt.timedelta(days=1)
    duplicated = 0
    for offset in range(WEEK_DAYS):
        day = since + dt.timedelta(days=1)
        settings = replace(settings, as_of_date=day)
        extract_simulated(settings, simulator, day, since=since)
        if settings.warehouse == "duckdb" and offset == 2:
            # a re-delivered batch (e.g. a file drop): DuckDB raw has no primary key, so copies can land there
            duplicated = WarehouseResource.from_settings(settings).execute(
                "insert into raw.litellm_spendlogs select * from raw.litellm_spendlogs "
                f"where cast(\"startTime\" as date) = date '{(day - dt.timedelta(days=1)).isoformat()}' limit 25"
            )
        run_partitioned(settings, window=day_window(day, day + dt.timedelta(days=1)))
        since = day
    if settings.warehouse == "duckdb":
        assert duplicated > 0
    incremental = {model: rows(settings, model, keys) for model, keys in PARTITIONED_MODELS.items()}

    # the models' data tests in a daily run check the days it re-processed (the last day + 2 lookback days)
    run_partitioned(settings, window=day_window(since, since + dt.timedelta(days=1)), command="test")
    compiled = next((settings.data_dir / "dbt_target" / "compiled").rglob("unique_int_usage__requests_request_id.sql"))
    first_checked = since - dt.timedelta(days=2)
    assert f"usage_date >= cast('{first_checked.isoformat()}' as date)" in compiled.read_text()

    run_partitioned(settings, window=day_window(since - dt.timedelta(days=3), since), window_as_vars=True)
    for model, keys in PARTITIONED_MODELS.items():
        assert rows(settings, model, keys) == incremental[model], f"re-running a partition changed {model}"

    run_partitioned(settings, "--full-refresh")
    for model, keys in PARTITIONED_MODELS.items():
        assert rows(settings, model, keys) == incremental[model], f"{model}: daily runs differ from a full refresh"
    assert len(incremental["marts.fct_usage_daily"]) > 1000
    assert max(r[0] for r in incremental["marts.fct_usage_daily"]) == since, "the week's last day should be loaded"


def test_features_at_a_month_end_ignore_later_data(month_end_cut) -> None:
    """Advance the cut warehouse to the simulator's end (six more weeks, extracted as changes the way the daily
    job does, so deleted users are recorded rather than never seen) and rebuild: the month's snapshot is unchanged.
    Runs after the daily-runs test, which works on the same warehouse inside the six weeks."""
    settings, cut_snapshot = month_end_cut
    cut_day = settings.as_of_date - dt.timedelta(days=1)
    settings = replace(settings, as_of_date=SMALL_COMPANY.as_of)
    extract_simulated(settings, simulator_for(settings), SMALL_COMPANY.as_of, since=cut_day)
    result = run_dbt(settings, ["build", "--select", "+customer_features_monthly", "--exclude", "test_type:data"])
    assert result.returncode == 0, result.stdout[-5000:]
    later_snapshot = feature_snapshot(settings, LEAKAGE_MONTH)
    assert len(cut_snapshot) > 50
    # the label needs month M+1, so only it may differ: NULL in the cut, known with later data
    assert cut_snapshot["churned_next_month"].isna().all()
    assert later_snapshot["churned_next_month"].notna().all()
    features = [c for c in cut_snapshot.columns if c != "churned_next_month"]
    pd.testing.assert_frame_equal(cut_snapshot[features], later_snapshot[features], check_exact=False, rtol=1e-9)
