"""Synthetic raw tables shaped like the sources, fast enough for 10M+ usage rows (vectorised numpy -> Arrow).

Only what the usage, engagement, cost and margin models read gets rows: Lago customers, plans, charges and
subscriptions, Keycloak users, attributes and login events, and LiteLLM spend logs (with a small share of
duplicate request_ids on DuckDB, where raw has no primary key). The other raw tables are created empty, so the
whole dbt project builds. Used by bench/bench_usage.py; not a simulator of behaviour (see orchestration/sources).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from orchestration.extract.tables import ensure_raw_table, raw_columns
from orchestration.resources.warehouse import WarehouseResource
from orchestration.sources.schemas import ALL_TABLES, MODEL_PRICES, MODEL_PROVIDERS, SourceTable, table

EPOCH = dt.datetime(1970, 1, 1)
PLANS = (  # code, monthly price in cents, free token units
    ("starter_monthly", 4_900, 2_000_000),
    ("pro_monthly", 19_900, 10_000_000),
    ("enterprise_monthly", 99_900, 60_000_000),
)
CHANNELS = ("organic", "paid_search", "referral", "partner")
CALL_TYPES = {"text-embedding-3-small": "aembedding"}


@dataclass(frozen=True)
class SyntheticScale:
    requests: int
    customers: int
    end_date: dt.date  # last day with usage (inclusive)
    days: int = 365
    users_per_customer: int = 3
    duplicate_share: float = 0.0  # share of extra rows repeating an existing request_id
    seed: int = 11

    @property
    def start_date(self) -> dt.date:
        return self.end_date - dt.timedelta(days=self.days - 1)


def _meta(n: int, loaded_at: dt.datetime) -> dict[str, pa.Array]:
    return {
        "_loaded_at": pa.array(np.full(n, np.datetime64(loaded_at, "us"))),
        "_source": pa.array(np.full(n, "synthetic", dtype=object), pa.string()),
        "_record_hash": pa.array(np.full(n, "x", dtype=object), pa.string()),
    }


def _build(source: SourceTable, columns: dict[str, object], n: int, loaded_at: dt.datetime) -> pa.Table:
    """An Arrow table with every raw column of `source` (missing ones NULL), typed per the contract."""
    data = {**columns, **_meta(n, loaded_at)}
    arrays = []
    fields = []
    for column in raw_columns(source):
        value = data.get(column.name)
        arrays.append(pa.nulls(n, column.type) if value is None else pa.array(value, column.type))
        fields.append(pa.field(column.name, column.type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _ids(prefix: str, n: int) -> np.ndarray:
    return np.char.add(prefix, np.arange(n).astype(str)).astype(object)


def dimension_tables(scale: SyntheticScale) -> dict[str, pa.Table]:
    """Customers, plans, charges, subscriptions, users, attributes and login events."""
    rng = np.random.default_rng(scale.seed)
    start = dt.datetime.combine(scale.start_date, dt.time())
    loaded_at = dt.datetime.combine(scale.end_date + dt.timedelta(days=1), dt.time(3))
    n_cust = scale.customers
    customer_ids = _ids("cus_", n_cust)
    external_ids = _ids("c-", n_cust)
    internal = rng.random(n_cust) < 0.01
    emails = [f"billing@{'internal.example.com' if i else f'co{k}.example.org'}" for k, i in enumerate(internal)]
    created = np.array([start + dt.timedelta(days=int(d)) for d in rng.integers(0, scale.days - 30, n_cust)])
    customers = {
        "id": customer_ids,
        "external_id": external_ids,
        "name": _ids("Customer ", n_cust),
        "email": emails,
        "country": rng.choice(["US", "DE", "GB", "FR", "JP"], n_cust),
        "currency": np.full(n_cust, "USD", dtype=object),
        "timezone": np.full(n_cust, "UTC", dtype=object),
        "customer_type": np.full(n_cust, "company", dtype=object),
        "net_payment_term": np.zeros(n_cust, dtype=np.int32),
        "created_at": created,
        "updated_at": created,
    }
    plan_ids = np.array([f"plan_{i}" for i in range(len(PLANS))], dtype=object)
    plan_created = np.full(len(PLANS), start - dt.timedelta(days=30))
    plans = {
        "id": plan_ids,
        "code": [p[0] for p in PLANS],
        "name": [p[0] for p in PLANS],
        "interval": np.ones(len(PLANS), dtype=np.int32),
        "amount_cents": [p[1] for p in PLANS],
        "amount_currency": ["USD"] * len(PLANS),
        "trial_period": np.zeros(len(PLANS)),
        "pay_in_advance": [True] * len(PLANS),
        "created_at": plan_created,
        "updated_at": plan_created,
    }
    charges = {
        "id": np.array([f"charge_{i}" for i in range(len(PLANS))], dtype=object),
        "plan_id": plan_ids,
        "billable_metric_id": ["bm_tokens"] * len(PLANS),
        "charge_model": np.full(len(PLANS), 2, dtype=np.int32),
        "properties": [json.dumps({"amount": "1.00", "free_units": p[2], "package_size": 1_000_000}) for p in PLANS],
        "pay_in_advance": [False] * len(PLANS),
        "created_at": plan_created,
        "updated_at": plan_created,
    }
    churned = rng.random(n_cust) < 0.25
    terminated = np.array(
        [
            c + dt.timedelta(days=int(d)) if x else None
            for c, d, x in zip(created, rng.integers(30, 200, n_cust), churned, strict=True)
        ]
    )
    terminated = np.array([t if t is not None and t.date() <= scale.end_date else None for t in terminated])
    subscriptions = {
        "id": _ids("sub_", n_cust),
        "external_id": _ids("sub-ext-", n_cust),
        "customer_id": customer_ids,
        "plan_id": plan_ids[rng.integers(0, len(PLANS), n_cust)],
        "status": np.where(terminated == None, 1, 2).astype(np.int32),  # noqa: E711 (numpy elementwise)
        "billing_time": np.zeros(n_cust, dtype=np.int32),
        "subscription_at": created,
        "started_at": created,
        "terminated_at": terminated,
        "created_at": created,
        "updated_at": created,
    }
    n_users = n_cust * scale.users_per_customer
    user_customer = np.repeat(np.arange(n_cust), scale.users_per_customer)
    user_ids = _ids("u-", n_users)
    user_created = created[user_customer] + np.array([dt.timedelta(days=int(d)) for d in rng.integers(0, 20, n_users)])
    users = {
        "id": user_ids,
        "username": user_ids,
        "email": [
            f"user{k}@{'internal.example.com' if internal[c] else 'mail.example.org'}"
            for k, c in enumerate(user_customer)
        ],
        "email_verified": np.ones(n_users, dtype=bool),
        "enabled": np.ones(n_users, dtype=bool),
        "created_timestamp": np.array([int((u - EPOCH).total_seconds() * 1000) for u in user_created], dtype=np.int64),
        "realm_id": np.full(n_users, "saas", dtype=object),
    }
    attribute_rows = []
    for k, c in enumerate(user_customer):
        attribute_rows.append((user_ids[k], "customer_external_id", external_ids[c]))
        attribute_rows.append((user_ids[k], "role", "admin" if k % scale.users_per_customer == 0 else "member"))
        attribute_rows.append((user_ids[k], "signup_channel", CHANNELS[c % len(CHANNELS)]))
    attributes = {
        "id": _ids("ua-", len(attribute_rows)),
        "user_id": [r[0] for r in attribute_rows],
        "name": [r[1] for r in attribute_rows],
        "value": [r[2] for r in attribute_rows],
    }
    # ~ one login per user every 4 days over the window
    n_events = n_users * scale.days // 4
    event_user = rng.integers(0, n_users, n_events)
    event_ms = (start - EPOCH).total_seconds() * 1000 + rng.random(n_events) * scale.days * 86_400_000
    is_error = rng.random(n_events) < 0.03
    events = {
        "id": _ids("ev-", n_events),
        "type": np.where(is_error, "LOGIN_ERROR", "LOGIN").astype(object),
        "event_time": event_ms.astype(np.int64),
        "user_id": user_ids[event_user],
        "realm_id": np.full(n_events, "saas", dtype=object),
    }
    tables = {
        "lago_customers": (customers, n_cust),
        "lago_plans": (plans, len(PLANS)),
        "lago_charges": (charges, len(PLANS)),
        "lago_subscriptions": (subscriptions, n_cust),
        "keycloak_user_entity": (users, n_users),
        "keycloak_user_attribute": (attributes, len(attribute_rows)),
        "keycloak_event_entity": (events, n_events),
    }
    return {name: _build(table(name), cols, n, loaded_at) for name, (cols, n) in tables.items()}


def spend_log_batches(
    scale: SyntheticScale, first_day: dt.date | None = None, days: int | None = None, batch_rows: int = 1_000_000
) -> Iterator[pa.Table]:
    """LiteLLM spend-log rows ordered by startTime (as the extract appends them), `batch_rows` at a time.

    `first_day`/`days` restrict the rows to a sub-window (same rows as the full generation would give there)."""
    source = table("litellm_spendlogs")
    models = np.array(list(MODEL_PRICES), dtype=object)
    prices = np.array([MODEL_PRICES[m] for m in models])
    providers = np.array([MODEL_PROVIDERS[m] for m in models], dtype=object)
    call_types = np.array([CALL_TYPES.get(m, "acompletion") for m in models], dtype=object)
    model_weights = np.linspace(2, 1, len(models))
    model_weights /= model_weights.sum()
    per_day = scale.requests // scale.days
    n_users = scale.customers * scale.users_per_customer
    window_first = first_day or scale.start_date
    window_days = days or scale.days
    buffer: list[pa.Table] = []
    buffered = 0
    for day_index in range(scale.days):
        day = scale.start_date + dt.timedelta(days=day_index)
        if not (window_first <= day < window_first + dt.timedelta(days=window_days)):
            continue
        rng = np.random.default_rng([scale.seed, day_index])
        n = per_day
        hours = rng.choice(24, n, p=_hour_weights())
        start_us = (
            np.datetime64(day, "us")
            + (hours * 3_600_000_000).astype("timedelta64[us]")
            + rng.integers(0, 3_600_000_000, n).astype("timedelta64[us]")
        )
        order = np.argsort(start_us)
        start_us = start_us[order]
        model_index = rng.choice(len(models), n, p=model_weights)
        prompt = rng.integers(50, 4000, n)
        completion = np.where(call_types[model_index] == "aembedding", 0, rng.integers(10, 1200, n))
        failed = rng.random(n) < 0.02
        cached = (~failed) & (rng.random(n) < 0.08)
        spend = np.where(failed | cached, 0.0, prompt * prices[model_index, 0] + completion * prices[model_index, 1])
        duration = rng.gamma(2.0, 400.0, n).astype(np.int64) + 50
        user_index = rng.integers(0, n_users, n)
        customer_index = user_index // scale.users_per_customer
        ids = np.char.add(f"r{day_index}-", np.arange(n).astype(str)).astype(object)
        columns = {
            "request_id": ids,
            "call_type": call_types[model_index],
            "spend": spend,
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "startTime": start_us,
            "endTime": start_us + duration.astype("timedelta64[ms]").astype("timedelta64[us]"),
            "request_duration_ms": duration,
            "model": models[model_index],
            "model_group": models[model_index],
            "custom_llm_provider": providers[model_index],
            "user": np.char.add("u-", user_index.astype(str)).astype(object),
            "end_user": np.char.add("c-", customer_index.astype(str)).astype(object),
            "cache_hit": np.where(cached, "True", "False").astype(object),
            "status": np.where(failed, "failure", "success").astype(object),
        }
        if scale.duplicate_share > 0:
            dup = rng.random(n) < scale.duplicate_share
            for key, values in columns.items():
                columns[key] = np.concatenate([values, values[dup]])
            n = len(columns["request_id"])
        loaded_at = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0, 5))
        buffer.append(_build(source, columns, n, loaded_at))
        buffered += n
        if buffered >= batch_rows:
            yield pa.concat_tables(buffer)
            buffer, buffered = [], 0
    if buffer:
        yield pa.concat_tables(buffer)


def _hour_weights() -> np.ndarray:
    hours = np.arange(24)
    weights = 1.0 + 2.0 * np.exp(-((hours - 15) ** 2) / 18.0)
    return weights / weights.sum()


def load_synthetic_raw(warehouse: WarehouseResource, scale: SyntheticScale, spend_log_days: int | None = None) -> int:
    """Create every raw table (contract DDL) and fill the synthetic ones (spend logs: the first `spend_log_days`
    days only, default all); returns the spend-log rows written."""
    dims = dimension_tables(scale)
    with warehouse.connect() as session:
        for source in ALL_TABLES:
            ensure_raw_table(session, source)
            session.execute(f'DELETE FROM raw."{source.raw_name}"')
        for name, data in dims.items():
            session.bulk_load("raw", name, data)
    written = 0
    for batch in spend_log_batches(scale, days=spend_log_days):
        append_spend_logs(warehouse, batch)
        written += batch.num_rows
    return written


def append_spend_logs(warehouse: WarehouseResource, batch: pa.Table) -> None:
    with warehouse.connect() as session:
        session.bulk_load("raw", "litellm_spendlogs", batch)
