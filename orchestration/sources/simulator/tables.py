"""Source-shaped pyarrow tables (schemas.py) from the simulator's versioned records."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from orchestration.sources.schemas import TABLES_BY_KEY

from .arrivals import COUNTRIES, TIMEZONES
from .catalog import COUPONS, CURRENCIES, INTERVAL_NAMES, TIERS
from .clock import NULL_TS, epoch_day
from .identity import CLIENT_ID, EVENT_DETAILS, EVENT_ERRORS, EVENT_TYPES, expand_events
from .ids import entity_uuids, sha256_hex
from .usage import CACHE_VALUES, CALL_TYPES, METADATA, MODEL_PROVIDER, MODELS, PROVIDERS, TAGS, expand_usage
from .world import CHANNELS, World

NS = {
    name: i + 1
    for i, name in enumerate(
        (
            "customer",
            "plan",
            "billable_metric",
            "charge",
            "coupon",
            "subscription",
            "applied_coupon",
            "invoice",
            "invoice_subscription",
            "fee",
            "payment",
            "credit_note",
            "user",
            "user_attribute",
            "realm",
        )
    )
}
_PREFIX = ("Acme", "Nova", "Blue", "Quant", "Helio", "Vector", "Lumen", "Cobalt", "Arbor", "Pixel", "Zephyr", "Orbit")
_SUFFIX = ("Labs", "AI", "Systems", "Analytics", "Works", "Health", "Legal", "Retail", "Robotics", "Cloud")
_FIRST = ("alex", "sam", "maria", "li", "noah", "emma", "omar", "yuki", "lena", "raj", "ana", "tom", "ines", "kai")
_LAST = ("smith", "garcia", "chen", "muller", "rossi", "khan", "dubois", "silva", "novak", "tanaka", "brown", "kim")


def ts(values: np.ndarray) -> pa.Array:
    values = np.asarray(values, dtype=np.int64)
    return pa.array(values, type=pa.int64(), mask=values == NULL_TS).cast(pa.timestamp("us"))


def dates(world: World, day: np.ndarray) -> pa.Array:
    return pa.array((np.asarray(day) + epoch_day(world.cfg.start_date)).astype(np.int32)).cast(pa.date32())


def ids(world: World, namespace: str, rows: np.ndarray) -> pa.Array:
    return entity_uuids(world.cfg.seed, NS[namespace], rows)


def _nullable(values: np.ndarray, valid: np.ndarray, type_: pa.DataType) -> pa.Array:
    return pa.array(values, mask=~np.asarray(valid, bool), type=type_)


def _build(key: str, columns: dict[str, pa.Array | np.ndarray | list]) -> pa.Table:
    table = TABLES_BY_KEY[key]
    missing = set(table.column_names) ^ set(columns)
    if missing:
        raise ValueError(f"{key}: columns do not match schemas.py: {sorted(missing)}")
    arrays = [
        pa.array(columns[c.name], type=c.type)
        if not isinstance(columns[c.name], pa.Array)
        else columns[c.name]
        if columns[c.name].type == c.type
        else columns[c.name].cast(c.type)
        for c in table.columns
    ]
    return pa.Table.from_arrays(arrays, schema=table.arrow_schema)


class Names:
    """Per-entity strings derived from integer ids (computed once per customer/user, never per event)."""

    def __init__(self, world: World) -> None:
        self.world = world
        cid = np.arange(world.cust.n)
        self.external_id = np.array([f"cus_{i:06d}" for i in cid], dtype=object)
        self.company = np.array([f"{_PREFIX[i % 12]} {_SUFFIX[(i // 12) % 10]} {i}" for i in cid], dtype=object)
        internal = world.cust["is_internal"]
        self.domain = np.array(
            [world.cfg.internal_domain if internal[i] else f"{_PREFIX[i % 12].lower()}{i}.example.com" for i in cid],
            dtype=object,
        )
        self.api_key = np.array(sha256_hex([f"sk-{world.cfg.seed}-{i}" for i in cid]), dtype=object)
        uid = np.arange(world.users.n)
        owner = world.users["cust"]
        self.username = np.array([f"{_FIRST[u % 14]}.{_LAST[(u // 14) % 12]}{u}" for u in uid], dtype=object)
        self.user_email = np.array(
            [f"{n}@{self.domain[o]}" for n, o in zip(self.username, owner, strict=True)], dtype=object
        )
        self.user_ip = np.array([f"10.{(u >> 16) & 255}.{(u >> 8) & 255}.{u & 255}" for u in uid], dtype=object)
        self.user_id = ids(world, "user", uid).to_numpy(zero_copy_only=False).astype(object)
        self.realm_id = ids(world, "realm", np.zeros(1, np.int64))[0].as_py()
        # Arrow copies with a trailing '' (code -1 / "missing" maps to the last entry)
        self.api_key_array = pa.array(list(self.api_key), pa.string())
        self.external_id_array = pa.array([*self.external_id, ""], pa.string())
        self.user_id_array = pa.array([*self.user_id, ""], pa.string())


# --- Lago -----------------------------------------------------------------------------------
def lago_static(world: World, until_us: int, since_us: int | None) -> dict[str, pa.Table]:
    """Plans, billable metric, charges and coupons: created when the company starts."""
    at = int(world.day_start(0))
    visible = at <= until_us and (since_us is None or at > since_us)
    cat = world.catalog
    p = np.arange(len(cat.code)) if visible else np.zeros(0, np.int64)
    paid = p[p > 0]
    coupons = np.arange(len(COUPONS)) if visible else np.zeros(0, np.int64)
    stamp = lambda n: ts(np.full(n, at))  # noqa: E731
    out = {
        "lago.plans": _build(
            "lago.plans",
            {
                "id": ids(world, "plan", p),
                "code": cat.code[p].astype(str),
                "name": [
                    f"{TIERS[cat.tier[i]].title()} ({INTERVAL_NAMES[cat.interval[i]]}, {CURRENCIES[cat.currency[i]]})"
                    for i in p
                ],
                "interval": cat.interval[p],
                "amount_cents": cat.amount_cents[p],
                "amount_currency": [CURRENCIES[cat.currency[i]] for i in p],
                "trial_period": cat.trial_days[p].astype(float),
                "pay_in_advance": np.ones(p.size, bool),
                "created_at": stamp(p.size),
                "updated_at": stamp(p.size),
                "deleted_at": ts(np.full(p.size, NULL_TS)),
            },
        ),
        "lago.billable_metrics": _build(
            "lago.billable_metrics",
            {
                "id": ids(world, "billable_metric", p[:1]),
                "code": ["tokens"][: p[:1].size],
                "name": ["LLM tokens"][: p[:1].size],
                "aggregation_type": np.ones(p[:1].size, np.int32),
                "field_name": ["total_tokens"][: p[:1].size],
                "created_at": stamp(p[:1].size),
                "updated_at": stamp(p[:1].size),
                "deleted_at": ts(np.full(p[:1].size, NULL_TS)),
            },
        ),
        "lago.charges": _build(
            "lago.charges",
            {
                "id": ids(world, "charge", paid),
                "plan_id": ids(world, "plan", paid),
                "billable_metric_id": ids(world, "billable_metric", np.zeros(paid.size, np.int64)),
                "charge_model": np.full(paid.size, 2, np.int32),
                "properties": [cat.charge_properties(i) for i in paid],
                "pay_in_advance": np.zeros(paid.size, bool),
                "created_at": stamp(paid.size),
                "updated_at": stamp(paid.size),
                "deleted_at": ts(np.full(paid.size, NULL_TS)),
            },
        ),
        "lago.coupons": _build(
            "lago.coupons",
            {
                "id": ids(world, "coupon", coupons),
                "code": [COUPONS[i].code for i in coupons],
                "name": [COUPONS[i].name for i in coupons],
                "coupon_type": [COUPONS[i].coupon_type for i in coupons],
                "amount_cents": pa.array([COUPONS[i].amount_cents for i in coupons], pa.int64()),
                "amount_currency": pa.array([COUPONS[i].amount_currency for i in coupons], pa.string()),
                "percentage_rate": pa.array([COUPONS[i].percentage_rate for i in coupons], pa.float64()),
                "frequency": [COUPONS[i].frequency for i in coupons],
                "frequency_duration": [COUPONS[i].frequency_duration for i in coupons],
                "created_at": stamp(coupons.size),
                "updated_at": stamp(coupons.size),
                "deleted_at": ts(np.full(coupons.size, NULL_TS)),
            },
        ),
    }
    return out


def lago_tables(world: World, names: Names, since_us: int | None, until_us: int) -> dict[str, pa.Table]:
    c = world.cust
    out = lago_static(world, until_us, since_us)
    cur = np.array(CURRENCIES, dtype=object)

    v = world.customers.latest(since_us, until_us)
    cu = v["cust"]
    ctype = np.array(["company", "individual", ""], dtype=object)[cu % 7 % 3 // 2 + (cu % 11 == 0)]
    country = np.array(COUNTRIES, dtype=object)[c["country"][cu]]
    country[cu % 29 == 5] = ""  # missing values are '' in the source
    out["lago.customers"] = _build(
        "lago.customers",
        {
            "id": ids(world, "customer", cu),
            "external_id": names.external_id[cu],
            "name": names.company[cu],
            "email": [f"billing@{d}" for d in names.domain[cu]],
            "country": country,
            "currency": cur[c["currency"][cu]],
            "timezone": np.array(TIMEZONES, dtype=object)[v["timezone"]],
            "customer_type": ctype,
            "net_payment_term": c["net_term"][cu].astype(np.int32),
            "created_at": ts(v["created_at"]),
            "updated_at": ts(v["_updated_at"]),
            "deleted_at": ts(v["deleted_at"]),
        },
    )

    v = world.subscriptions.latest(since_us, until_us)
    out["lago.subscriptions"] = _build(
        "lago.subscriptions",
        {
            "id": ids(world, "subscription", v["_row"]),
            "external_id": [f"sub_{i:07d}" for i in v["chain"]],
            "customer_id": ids(world, "customer", v["cust"]),
            "plan_id": ids(world, "plan", v["plan"]),
            "status": v["status"].astype(np.int32),
            "billing_time": np.ones(v["_row"].size, np.int32),
            "subscription_at": ts(v["subscription_at"]),
            "started_at": ts(v["started_at"]),
            "trial_ended_at": ts(v["trial_ended_at"]),
            "ending_at": ts(v["ending_at"]),
            "terminated_at": ts(v["terminated_at"]),
            "canceled_at": ts(v["canceled_at"]),
            "previous_subscription_id": _nullable(
                ids(world, "subscription", np.maximum(v["prev"], 0)).to_numpy(zero_copy_only=False),
                v["prev"] >= 0,
                pa.string(),
            ),
            "created_at": ts(v["created_at"]),
            "updated_at": ts(v["_updated_at"]),
        },
    )

    v = world.applied_coupons.latest(since_us, until_us)
    kind = v["coupon"]
    fixed = np.array([cp.coupon_type == 0 for cp in COUPONS])[kind]
    out["lago.applied_coupons"] = _build(
        "lago.applied_coupons",
        {
            "id": ids(world, "applied_coupon", v["_row"]),
            "coupon_id": ids(world, "coupon", kind),
            "customer_id": ids(world, "customer", v["cust"]),
            "status": v["status"].astype(np.int32),
            "amount_cents": _nullable(np.array([cp.amount_cents or 0 for cp in COUPONS])[kind], fixed, pa.int64()),
            "amount_currency": _nullable(cur[c["currency"][v["cust"]]], fixed, pa.string()),
            "percentage_rate": _nullable(
                np.array([cp.percentage_rate or 0.0 for cp in COUPONS])[kind], ~fixed, pa.float64()
            ),
            "frequency": np.array([cp.frequency for cp in COUPONS])[kind].astype(np.int32),
            "frequency_duration": np.array([cp.frequency_duration for cp in COUPONS])[kind].astype(np.int32),
            "frequency_duration_remaining": v["remaining"].astype(np.int32),
            "terminated_at": ts(v["terminated_at"]),
            "created_at": ts(v["created_at"]),
            "updated_at": ts(v["_updated_at"]),
        },
    )

    v = world.invoices.latest(since_us, until_us)
    subtotal = v["fees_cents"] - v["coupons_cents"]
    out["lago.invoices"] = _build(
        "lago.invoices",
        {
            "id": ids(world, "invoice", v["_row"]),
            "customer_id": ids(world, "customer", v["cust"]),
            "number": [f"SAAS-{i + 1:07d}" for i in v["_row"]],
            "issuing_date": dates(world, v["issuing_day"]),
            "payment_due_date": dates(world, v["due_day"]),
            "status": np.ones(v["_row"].size, np.int32),
            "payment_status": v["payment_status"].astype(np.int32),
            "invoice_type": np.zeros(v["_row"].size, np.int32),
            "currency": cur[c["currency"][v["cust"]]],
            "fees_amount_cents": v["fees_cents"],
            "coupons_amount_cents": v["coupons_cents"],
            "taxes_amount_cents": v["taxes_cents"],
            "sub_total_excluding_taxes_amount_cents": subtotal,
            "total_amount_cents": subtotal + v["taxes_cents"],
            "created_at": ts(v["created_at"]),
            "updated_at": ts(v["_updated_at"]),
        },
    )

    v = world.invoice_subscriptions.latest(since_us, until_us)
    out["lago.invoice_subscriptions"] = _build(
        "lago.invoice_subscriptions",
        {
            "id": ids(world, "invoice_subscription", v["_row"]),
            "invoice_id": ids(world, "invoice", v["invoice"]),
            "subscription_id": ids(world, "subscription", v["sub"]),
            "from_datetime": ts(v["from_us"]),
            "to_datetime": ts(v["to_us"]),
            "charges_from_datetime": ts(v["charges_from_us"]),
            "charges_to_datetime": ts(v["charges_to_us"]),
            "created_at": ts(v["created_at"]),
            "updated_at": ts(v["_updated_at"]),
        },
    )

    v = world.fees.latest(since_us, until_us)
    is_charge = v["fee_type"] == 0
    inv_cust = world.invoices["cust"][v["invoice"]]
    out["lago.fees"] = _build(
        "lago.fees",
        {
            "id": ids(world, "fee", v["_row"]),
            "invoice_id": ids(world, "invoice", v["invoice"]),
            "subscription_id": ids(world, "subscription", v["sub"]),
            "charge_id": _nullable(
                ids(world, "charge", v["plan"]).to_numpy(zero_copy_only=False), is_charge, pa.string()
            ),
            "fee_type": v["fee_type"].astype(np.int32),
            "amount_cents": v["amount_cents"],
            "amount_currency": cur[c["currency"][inv_cust]],
            "taxes_amount_cents": v["taxes_cents"],
            "units": v["units"],
            "payment_status": v["payment_status"].astype(np.int32),
            "created_at": ts(v["created_at"]),
            "updated_at": ts(v["_updated_at"]),
            "deleted_at": ts(np.full(v["_row"].size, NULL_TS)),
        },
    )

    v = world.payments.latest(since_us, until_us)
    out["lago.payments"] = _build(
        "lago.payments",
        {
            "id": ids(world, "payment", v["_row"]),
            "invoice_id": ids(world, "invoice", v["invoice"]),
            "amount_cents": v["amount_cents"],
            "amount_currency": cur[c["currency"][world.invoices["cust"][v["invoice"]]]],
            "payable_payment_status": np.where(v["succeeded"], "succeeded", "failed").astype(object),
            "created_at": ts(v["created_at"]),
            "updated_at": ts(v["_updated_at"]),
        },
    )

    v = world.credit_notes.latest(since_us, until_us)
    cn_cust = world.invoices["cust"][v["invoice"]]
    out["lago.credit_notes"] = _build(
        "lago.credit_notes",
        {
            "id": ids(world, "credit_note", v["_row"]),
            "invoice_id": ids(world, "invoice", v["invoice"]),
            "customer_id": ids(world, "customer", cn_cust),
            "number": [f"SAAS-CN-{i + 1:06d}" for i in v["_row"]],
            "issuing_date": dates(world, (v["created_at"] // 86_400_000_000) - epoch_day(world.cfg.start_date)),
            "reason": v["reason"].astype(np.int32),
            "total_amount_currency": cur[c["currency"][cn_cust]],
            "credit_amount_cents": v["credit_cents"],
            "refund_amount_cents": v["refund_cents"],
            "total_amount_cents": v["refund_cents"] + v["credit_cents"],
            "created_at": ts(v["created_at"]),
            "updated_at": ts(v["_updated_at"]),
        },
    )
    return out


# --- Keycloak -------------------------------------------------------------------------------
def keycloak_tables(
    world: World, names: Names, since_us: int | None, until_us: int, days: range
) -> dict[str, pa.Table]:
    v = world.users.latest(since_us, until_us)
    keep = ~v["deleted"]
    u = v["_row"][keep]
    users = _build(
        "keycloak.user_entity",
        {
            "id": names.user_id[u],
            "username": names.username[u],
            "email": names.user_email[u],
            "email_verified": v["email_verified"][keep],
            "enabled": v["enabled"][keep],
            "first_name": [_FIRST[i % 14].title() for i in u],
            "last_name": [_LAST[(i // 14) % 12].title() for i in u],
            "created_timestamp": v["created_at"][keep] // 1000,
            "realm_id": np.full(u.size, names.realm_id, dtype=object),
            "service_account_client_link": pa.nulls(u.size, pa.string()),
        },
    )
    # attributes never change: they appear with their user (in changes: users created in the window)
    new = u if since_us is None else u[v["created_at"][keep] > since_us]
    new_owner = world.users["cust"][new]
    roles = np.array(["owner", "admin", "member"], dtype=object)[world.users["role"][new]]
    attr_user = np.repeat(new, 3)
    attributes = _build(
        "keycloak.user_attribute",
        {
            "id": ids(world, "user_attribute", np.repeat(new * 3, 3) + np.tile(np.arange(3), new.size)),
            "user_id": names.user_id[attr_user],
            "name": np.tile(np.array(["customer_external_id", "signup_channel", "role"], dtype=object), new.size),
            "value": np.column_stack(
                [
                    names.external_id[new_owner],
                    np.array(CHANNELS, dtype=object)[world.cust["channel"][new_owner]],
                    roles,
                ]
            ).reshape(-1)
            if new.size
            else np.zeros(0, dtype=object),
        },
    )
    parts = [world.expanded("events", d, expand_events) for d in days]
    parts = [p for p in parts if p["user"].size]
    if parts:
        user = np.concatenate([p["user"] for p in parts])
        kind = np.concatenate([p["kind"] for p in parts])
        at = np.concatenate([p["at_us"] for p in parts])
        ev_id, session = pa.concat_arrays([p["id"] for p in parts]), pa.concat_arrays([p["session"] for p in parts])
        window = (at <= until_us) & (at > since_us if since_us is not None else True)
        sel = pa.array(np.flatnonzero(window))
        user, kind, at = user[window], kind[window], at[window]
        ev_id, session = ev_id.take(sel), session.take(sel)
    else:
        user = kind = at = np.zeros(0, np.int64)
        ev_id = session = pa.array([], pa.string())
    events = _build(
        "keycloak.event_entity",
        {
            "id": ev_id,
            "type": EVENT_TYPES[kind],
            "event_time": at // 1000,
            "user_id": names.user_id[user],
            "session_id": session,
            "ip_address": names.user_ip[user],
            "client_id": np.full(user.size, CLIENT_ID, dtype=object),
            "realm_id": np.full(user.size, names.realm_id, dtype=object),
            "error": EVENT_ERRORS[kind],
            "details_json": EVENT_DETAILS[kind],
        },
    )
    realm = pa.table(
        {
            "id": pa.array([names.realm_id] if since_us is None else [], pa.string()),
            "name": pa.array(["saas"] if since_us is None else [], pa.string()),
        }
    )
    return {
        "keycloak.user_entity": users,
        "keycloak.user_attribute": attributes,
        "keycloak.event_entity": events,
        "keycloak.realm": realm,
    }


# --- LiteLLM --------------------------------------------------------------------------------
def _lookup(codes: np.ndarray, values: tuple[str, ...] | np.ndarray | pa.Array) -> pa.Array:
    """values[codes] as a string array, without Python objects per row."""
    dictionary = values if isinstance(values, pa.Array) else pa.array(list(values), pa.string())
    codes = np.asarray(codes, dtype=np.int64)
    _, offsets_buf, data_buf = dictionary.buffers()
    offsets = np.frombuffer(offsets_buf, np.int32)[dictionary.offset : dictionary.offset + len(dictionary) + 1]
    lengths = np.diff(offsets)
    width = int(lengths.max()) if lengths.size else 0
    if width and np.isin(lengths, (0, width)).all() and dictionary.null_count == 0:
        # fixed-width entries (ids, keys) plus '': gather whole rows of a (k, width) byte matrix
        data = np.frombuffer(data_buf, np.uint8)[offsets[0] : offsets[-1]]
        starts = offsets[:-1] - offsets[0]
        matrix = data[starts[lengths > 0][:, None] + np.arange(width)]
        row_of = np.cumsum(lengths > 0) - 1
        used = lengths[codes] > 0
        out_data = matrix[row_of[codes[used]]].reshape(-1)
        out_offsets = np.zeros(codes.size + 1, np.int32)
        np.cumsum(used * width, out=out_offsets[1:])
        return pa.Array.from_buffers(pa.string(), codes.size, [None, pa.py_buffer(out_offsets), pa.py_buffer(out_data)])
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), dictionary).cast(pa.string())


def litellm_table(world: World, names: Names, since_us: int | None, until_us: int, days: range) -> pa.Table:
    parts = [p for p in (world.expanded("usage", d, expand_usage) for d in days) if p]
    if not parts:
        return TABLES_BY_KEY["litellm.LiteLLM_SpendLogs"].arrow_schema.empty_table()
    arrival = np.concatenate([p["arrival"] for p in parts])
    window = arrival <= until_us
    if since_us is not None:
        window &= arrival > since_us
    sel = None if window.all() else np.flatnonzero(window)

    def column(name: str) -> np.ndarray:
        values = np.concatenate([p[name] for p in parts])
        return values if sel is None else values[sel]

    # per-day string arrays (request ids, cache keys) become one array with offset codes
    request_id = pa.concat_arrays([p["request_id"] for p in parts])
    key_offsets = np.cumsum([0] + [len(p["cache_keys"]) for p in parts[:-1]])
    key_codes = np.concatenate(
        [
            np.where(p["cache_key_code"] > 0, p["cache_key_code"] + off, 0)
            for p, off in zip(parts, key_offsets, strict=True)
        ]
    )
    cache_keys = pa.concat_arrays([p["cache_keys"] for p in parts])
    if sel is not None:
        request_id = request_id.take(pa.array(sel))
        key_codes = key_codes[sel]
    cust, user, model = column("cust"), column("user"), column("model")
    n = cust.size
    prompt, completion = column("prompt"), column("completion")
    empty = _lookup(np.zeros(n, np.int64), ("",))
    n_customers, n_users = len(names.external_id), len(names.user_id)
    end_user = np.where(column("end_user_missing").astype(bool), n_customers, cust)
    return _build(
        "litellm.LiteLLM_SpendLogs",
        {
            "request_id": request_id,
            "call_type": _lookup(column("call"), CALL_TYPES),
            "api_key": _lookup(cust, names.api_key_array),
            "spend": column("spend"),
            "total_tokens": prompt + completion,
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "startTime": ts(column("start")),
            "endTime": ts(column("end")),
            "completionStartTime": ts(column("first_token")),
            "request_duration_ms": column("duration_ms"),
            "model": _lookup(model, MODELS),
            "model_group": _lookup(model, MODELS),
            "custom_llm_provider": _lookup(MODEL_PROVIDER[model], PROVIDERS),
            "user": _lookup(np.where(user >= 0, user, n_users), names.user_id_array),
            "end_user": _lookup(end_user, names.external_id_array),
            "team_id": empty,
            "organization_id": empty,
            "metadata": _lookup(column("meta"), METADATA),
            "request_tags": _lookup(column("tags"), TAGS),
            "cache_hit": _lookup(column("cache"), CACHE_VALUES),
            "cache_key": _lookup(key_codes, cache_keys),
            "status": _lookup(column("failed").astype(np.int8), ("success", "failure")),
            "session_id": empty,
        },
    )
