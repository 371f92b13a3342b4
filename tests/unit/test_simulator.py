"""The simulator's source tables: contract shapes, determinism, prefix stability, Lago invariants, realism."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from orchestration.sources.schemas import ALL_TABLES, TABLES_BY_KEY
from orchestration.sources.simulator import Simulator

from .simulator_helpers import AS_OF, CONFIG, canonical, tables, upsert


def test_every_source_table_matches_the_contract() -> None:
    out = tables()
    assert set(out) == {t.key for t in ALL_TABLES} | {"keycloak.realm"}
    for spec in ALL_TABLES:
        table = out[spec.key]
        assert table.schema.equals(spec.arrow_schema), spec.key
        assert table.num_rows > 0, spec.key
        for column in spec.columns:
            values = table.column(column.name)
            if column.required:
                assert values.null_count == 0, f"{spec.key}.{column.name} has NULLs"
            if column.enum is not None:
                seen = set(pc.unique(values.drop_null()).to_pylist())
                assert seen <= set(column.enum), f"{spec.key}.{column.name}: {seen - set(column.enum)}"
        if "updated_at" in spec.column_names:
            assert pc.all(pc.less_equal(table["created_at"], table["updated_at"])).as_py(), spec.key
        if spec.system != "litellm":
            keys = table.select(list(spec.primary_key)).to_pylist()
            assert len({tuple(k.values()) for k in keys}) == len(keys), f"{spec.key} primary key not unique"
    assert out["keycloak.realm"].to_pylist() == [
        {"id": out["keycloak.user_entity"]["realm_id"][0].as_py(), "name": "saas"}
    ]


def test_same_seed_same_tables_and_prefix_stability() -> None:
    """A fresh simulator stopping at D gives exactly the rows of one that already ran further."""
    day = dt.date(2026, 3, 20)
    fresh = Simulator(CONFIG).source_tables(day)
    ran_further = tables()  # the shared simulator has simulated to AS_OF
    from .simulator_helpers import simulator

    again = simulator().source_tables(day)
    for key in fresh:
        assert canonical(key, fresh[key]).equals(canonical(key, again[key])), key
    assert ran_further["lago.customers"].num_rows > fresh["lago.customers"].num_rows


@pytest.mark.parametrize("since", [dt.date(2026, 10, 13), dt.date(2026, 10, 14)])
def test_changes_applied_to_a_day_equal_a_later_day(since: dt.date) -> None:
    from .simulator_helpers import simulator

    sim = simulator()
    before, after, changes = sim.source_tables(since), tables(), sim.changes(since, AS_OF)
    assert changes["litellm.LiteLLM_SpendLogs"].num_rows > 0
    for key, expected in after.items():
        if key == "keycloak.realm":
            continue
        merged = upsert(key, before[key], changes[key])
        if TABLES_BY_KEY[key].mode == "snapshot":  # hard deletes only show in the next snapshot
            ids = set(expected.column("id").to_pylist())
            merged = merged.filter(pa.array([i in ids for i in merged.column("id").to_pylist()]))
        assert canonical(key, merged).equals(canonical(key, expected)), key


def test_subscription_chains_follow_lago_semantics() -> None:
    out = tables()
    subs = out["lago.subscriptions"].to_pandas()
    by_id = subs.set_index("id")
    # upgrades/downgrades: same external_id, previous row terminated when the next one started
    chained = subs[subs.previous_subscription_id.notna()]
    assert len(chained) > 5
    prev = by_id.loc[chained.previous_subscription_id]
    assert (prev.external_id.to_numpy() == chained.external_id.to_numpy()).all()
    started = chained.started_at.notna().to_numpy()
    assert (prev.status.to_numpy()[started] == 2).all()
    assert (prev.terminated_at.to_numpy()[started] == chained.started_at.to_numpy()[started]).all()
    # no two rows of one external_id active at the same instant
    live = subs[subs.started_at.notna()].sort_values(["external_id", "started_at"])
    ends = live.terminated_at.fillna(np.datetime64("2100-01-01"))
    same = live.external_id.to_numpy()[1:] == live.external_id.to_numpy()[:-1]
    assert (live.started_at.to_numpy()[1:][same] >= ends.to_numpy()[:-1][same]).all()
    # pending downgrades, cancellations and every lifecycle state appear
    assert {0, 1, 2} <= set(subs.status) and (subs.status == 0).sum() + (subs.status == 3).sum() > 0
    assert (subs.created_at <= subs.updated_at).all()
    # customers holding two concurrent chains exist
    active = subs[subs.status == 1]
    assert (active.groupby("customer_id").external_id.nunique() > 1).any()


def test_billing_has_failures_recoveries_refunds_and_coupons() -> None:
    out = tables()
    pay = out["lago.payments"].to_pandas()
    assert {"succeeded", "failed"} <= set(pay.payable_payment_status)
    recovered = pay.groupby("invoice_id").payable_payment_status.agg(lambda s: {"failed", "succeeded"} <= set(s))
    assert recovered.any()
    assert out["lago.credit_notes"].num_rows > 0
    fees = out["lago.fees"].to_pandas()
    assert {0, 2} <= set(fees.fee_type) and fees[fees.fee_type == 0].charge_id.notna().all()
    coupons = out["lago.applied_coupons"].to_pandas()
    assert coupons.amount_cents.notna().any() and coupons.percentage_rate.notna().any() and (coupons.status == 1).any()
    plans = out["lago.plans"].to_pandas()
    assert set(plans.interval) == {0, 1, 2, 3, 4} and "free" in set(plans.code)


def test_usage_is_messy_like_the_real_source() -> None:
    from .simulator_helpers import simulator

    usage = tables()["litellm.LiteLLM_SpendLogs"]
    ids = usage.column("request_id")
    assert pc.count_distinct(ids).as_py() < usage.num_rows  # duplicate deliveries
    # a duplicate delivery is the same row again, not a conflicting version of it
    assert usage.to_pandas().drop_duplicates().request_id.is_unique
    assert pc.sum(pc.equal(usage.column("end_user"), "")).as_py() > 0
    assert set(pc.unique(usage.column("status")).to_pylist()) == {"success", "failure"}
    assert set(pc.unique(usage.column("call_type")).to_pylist()) >= {"acompletion", "aembedding", "aspeech"}
    # late arrivals: rows delivered in a window although they started before it
    since = dt.date(2026, 10, 13)
    late = simulator().changes(since, AS_OF)["litellm.LiteLLM_SpendLogs"]
    edge = pa.scalar(dt.datetime(2026, 10, 13, 23, 0), pa.timestamp("us"))
    assert pc.sum(pc.less(late.column("startTime"), edge)).as_py() > 0
    events = tables()["keycloak.event_entity"]
    assert {"LOGIN", "LOGIN_ERROR", "REGISTER", "LOGOUT"} <= set(pc.unique(events.column("type")).to_pylist())
    users = tables()["keycloak.user_entity"].to_pandas()
    assert (~users.enabled).any() and users.email.str.endswith("@" + CONFIG.internal_domain).any()
    registered = set(events.filter(pc.equal(events.column("type"), "REGISTER")).column("user_id").to_pylist())
    assert registered - set(users.id), "some users are hard-deleted (gone from user_entity, still in events)"
    assert tables()["lago.customers"].column("deleted_at").null_count < tables()["lago.customers"].num_rows
