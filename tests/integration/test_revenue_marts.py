"""Revenue marts against the simulator's ground truth, on each engine.

fct_mrr must equal the truth's MRR for every customer-month to the cent, its movements must equal the truth's
movements, mrr_movements must satisfy the METRICS.md identity every month, and a warehouse advanced by one day
and then one month (extract changes + daily dbt build) must hold the same revenue marts as a from-scratch build.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
import yaml

from orchestration.resources.warehouse import WarehouseResource
from orchestration.settings import Settings
from orchestration.sources.demo import write_truth
from tests.conftest import SMALL_COMPANY
from tests.integration.simulated_warehouse import (
    dbt_node_statuses,
    extract_simulated,
    run_dbt,
    simulator_for,
)

pytestmark = pytest.mark.slow

REVENUE_MODELS = (
    "int_revenue__months",
    "int_revenue__fx_rates",
    "int_revenue__subscriptions",
    "int_revenue__applied_coupons",
    "int_revenue__delinquency_windows",
    "int_revenue__customer_months",
    "int_revenue__customer_signup_channel",
    "int_revenue__trials",
    "fct_mrr",
    "mrr_movements",
    "mrr_by_plan",
    "retention_trailing_12m",
    "cohort_retention",
    "trial_conversion",
    "billing_monthly",
    "dim_customers",
    "dim_plans",
)
# Keys that order each mart deterministically for table-to-table comparison.
MART_KEYS = {
    "fct_mrr": "customer_id, month",
    "mrr_movements": "month",
    "mrr_by_plan": "month, tier, billing_interval",
    "retention_trailing_12m": "month",
    "cohort_retention": "cohort_month, months_since_start",
    "trial_conversion": "trial_month, signup_channel",
    "billing_monthly": "month, currency",
    "dim_customers": "customer_id",
    "dim_plans": "plan_code",
}
MARTS_YAML = (
    Path(__file__).resolve().parents[2] / "dbt_project" / "models" / "marts" / "revenue" / "_revenue__models.yml"
)
DAILY_JOB_SELECTION = [
    "build", "--select", "+path:models/marts/revenue", "path:tests/revenue", "--indirect-selection", "cautious"
]  # fmt: skip


def query_df(settings: Settings, sql: str) -> pd.DataFrame:
    rows = WarehouseResource.from_settings(settings).query(sql)
    return pd.DataFrame(rows)


def fct_mrr_frame(settings: Settings) -> pd.DataFrame:
    frame = query_df(
        settings,
        "select customer_id, month, cast(mrr as varchar), cast(mrr_billing_currency as varchar), plan_code,"
        " is_closed_month, movement_type, cast(movement_amount as varchar), cast(fx_adjustment as varchar),"
        " cohort_month from marts.fct_mrr",
    )
    frame.columns = [
        "customer_external_id", "month", "mrr", "mrr_billing_currency", "plan_code", "is_closed_month",
        "movement_type", "movement_amount", "fx_adjustment", "cohort_month",
    ]  # fmt: skip
    for column in ("mrr", "mrr_billing_currency", "movement_amount", "fx_adjustment"):
        frame[column] = frame[column].map(Decimal)
    frame["month"] = pd.to_datetime(frame["month"]).dt.date
    frame["cohort_month"] = pd.to_datetime(frame["cohort_month"]).dt.date
    return frame


def truth_frame(settings: Settings, name: str) -> pd.DataFrame:
    frame = pd.read_parquet(settings.truth_dir / f"{name}.parquet")
    frame["month"] = pd.to_datetime(frame["month"]).dt.date
    for column in ("mrr", "mrr_billing_currency", "movement_amount", "fx_adjustment"):
        if column in frame:
            frame[column] = frame[column].map(lambda v: Decimal(str(v)))
    return frame


def assert_revenue_nodes_passed(settings: Settings, target_path=None) -> None:
    statuses = dbt_node_statuses(settings, target_path)
    ours = {node: status for node, status in statuses.items() if any(name in node for name in REVENUE_MODELS)}
    assert len(ours) > len(REVENUE_MODELS), f"revenue nodes missing from the dbt run: {sorted(ours)}"
    failed = {node: status for node, status in ours.items() if status not in ("success", "pass")}
    assert not failed, f"revenue dbt nodes did not pass: {failed}"


def assert_mrr_matches_truth(settings: Settings) -> None:
    ours = fct_mrr_frame(settings)
    truth = truth_frame(settings, "mrr")
    merged = truth.merge(
        ours, on=["customer_external_id", "month"], how="outer", suffixes=("_truth", ""), indicator=True
    )
    assert not (merged["_merge"] == "right_only").any(), "fct_mrr has customer-months the truth does not know"
    # fct_mrr starts at the first month with MRR > 0: the truth's earlier (and never-paying) rows are all zero
    skipped = merged[merged["_merge"] == "left_only"]
    assert (skipped["mrr_truth"] == 0).all(), skipped[skipped["mrr_truth"] != 0].head().to_string()
    both = merged[merged["_merge"] == "both"]
    assert len(both) > 0
    for column in ("mrr", "mrr_billing_currency", "is_closed_month"):
        wrong = both[both[f"{column}_truth"] != both[column]]
        assert wrong.empty, f"{len(wrong)} customer-months differ in {column}:\n{wrong.head(10).to_string()}"
    wrong_plan = both[both["plan_code_truth"].fillna("") != both["plan_code"].fillna("")]
    assert wrong_plan.empty, wrong_plan.head(10).to_string()


def assert_movements_match_truth(settings: Settings) -> None:
    ours = fct_mrr_frame(settings)
    ours = ours[ours["movement_type"].notna() | (ours["fx_adjustment"] != 0)]
    truth = truth_frame(settings, "movements")
    merged = truth.merge(
        ours, on=["customer_external_id", "month"], how="outer", suffixes=("_truth", ""), indicator=True
    )
    unmatched = merged[merged["_merge"] != "both"]
    assert unmatched.empty, unmatched.head(10).to_string()
    for column in ("movement_amount", "fx_adjustment"):
        wrong = merged[merged[f"{column}_truth"] != merged[column]]
        assert wrong.empty, wrong.head(10).to_string()
    wrong_type = merged[merged["movement_type_truth"].fillna("") != merged["movement_type"].fillna("")]
    assert wrong_type.empty, wrong_type.head(10).to_string()
    assert set(ours["movement_type"].dropna()) >= {"new", "expansion", "contraction", "churn"}


def assert_movement_identity(settings: Settings) -> None:
    columns = ["starting_mrr", "new_mrr", "reactivation_mrr", "expansion_mrr", "contraction_mrr", "churned_mrr",
               "fx_adjustment", "ending_mrr"]  # fmt: skip
    frame = query_df(
        settings,
        "select month, "
        + ", ".join(f"cast({c} as varchar)" for c in columns)
        + " from marts.mrr_movements order by month",
    )
    assert len(frame) > 0
    previous_ending = Decimal(0)
    for row in frame.itertuples(index=False):
        month, values = row[0], [Decimal(v) for v in row[1:]]
        starting, *movements, ending = values
        assert ending == starting + sum(movements), f"identity broken in {month}"
        assert starting == previous_ending, f"starting_mrr of {month} is not the previous ending_mrr"
        previous_ending = ending


def mart_rows(settings: Settings, mart: str) -> list[tuple]:
    rows = WarehouseResource.from_settings(settings).query(f"select * from marts.{mart} order by {MART_KEYS[mart]}")
    return [tuple(float(v) if isinstance(v, float | Decimal) else v for v in row) for row in rows]


def test_revenue_models_build_and_pass_their_tests(built_warehouse: Settings) -> None:
    assert_revenue_nodes_passed(built_warehouse)


def test_fct_mrr_equals_truth_to_the_cent(built_warehouse: Settings) -> None:
    assert_mrr_matches_truth(built_warehouse)


def test_fct_mrr_movements_equal_truth(built_warehouse: Settings) -> None:
    assert_movements_match_truth(built_warehouse)


def test_mrr_movements_identity_holds_every_month(built_warehouse: Settings) -> None:
    assert_movement_identity(built_warehouse)


def test_internal_customers_only_in_dim_customers(built_warehouse: Settings) -> None:
    internal = query_df(built_warehouse, "select customer_id from marts.dim_customers where is_internal")
    assert len(internal) > 0
    leaked = query_df(
        built_warehouse,
        "select count(*) from marts.fct_mrr inner join marts.dim_customers using (customer_id) where is_internal",
    )
    assert leaked.iloc[0, 0] == 0


def test_advancing_a_day_then_a_month_equals_a_full_rebuild(make_settings, built_warehouse: Settings) -> None:
    """Extract the simulator's changes and rerun the daily dbt build: the marts equal a from-scratch build."""
    final_as_of = SMALL_COMPANY.as_of
    day_as_of = final_as_of.replace(month=final_as_of.month - 1)  # SMALL_COMPANY ends mid-October
    start_as_of = day_as_of - dt.timedelta(days=1)
    settings = replace(make_settings("revenue_incremental"), as_of_date=start_as_of)
    simulator = simulator_for(settings)

    extract_simulated(settings, simulator, start_as_of)
    assert run_dbt(settings, DAILY_JOB_SELECTION).returncode == 0

    for since, as_of in ((start_as_of, day_as_of), (day_as_of, final_as_of)):
        settings = replace(settings, as_of_date=as_of)
        extract_simulated(settings, simulator, as_of, since=since)
        result = run_dbt(settings, DAILY_JOB_SELECTION)
        assert result.returncode == 0, result.stdout[-5000:]
        assert_revenue_nodes_passed(settings)
        write_truth(simulator.config, settings.truth_dir, as_of, simulator)
        assert_mrr_matches_truth(settings)
        assert_movement_identity(settings)

    for mart in MART_KEYS:
        assert mart_rows(settings, mart) == mart_rows(built_warehouse, mart), f"{mart} differs from a full rebuild"


def test_every_revenue_mart_column_is_documented(built_warehouse: Settings) -> None:
    models = yaml.safe_load(MARTS_YAML.read_text())["models"]
    documented = {m["name"]: {c["name"] for c in m["columns"] if c.get("description")} for m in models}
    assert set(documented) == set(MART_KEYS)
    with WarehouseResource.from_settings(built_warehouse).connect() as session:
        for mart, columns in documented.items():
            actual = set(session.columns("marts", mart))
            assert actual == columns, f"{mart}: undocumented {actual - columns}, stale {columns - actual}"
