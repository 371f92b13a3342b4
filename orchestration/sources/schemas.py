"""The shapes of the three source systems, as their own databases store them (SOURCES.md).

This module is the contract shared by the demo simulator (which writes these tables), the
connectors (which read them by column name) and the `raw` layer (one table per entity, same
column names, plus `_loaded_at`, `_source`, `_record_hash`).

Table and column names are exactly those of a real deployment's PostgreSQL database:
- Lago: Rails snake_case tables, integer enums (Rails order), money in integer minor units.
- Keycloak: Liquibase creates unquoted identifiers, so PostgreSQL stores them lower-case
  (`user_entity.created_timestamp`); times are epoch milliseconds.
- LiteLLM: Prisma creates quoted identifiers: table "LiteLLM_SpendLogs", columns "startTime" etc.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from babel.numbers import list_currencies

from orchestration.lazy import lazy_module

# The contract names Arrow types by their string form ("timestamp[us]") and builds pyarrow types on use, so the
# code location can define the raw assets without importing pyarrow (orchestration/lazy.py).
pa = lazy_module("pyarrow")

# --- integer enums (Rails order, copied from lago-api) -------------------------------------
SUBSCRIPTION_STATUS = {0: "pending", 1: "active", 2: "terminated", 3: "canceled", 4: "incomplete"}
PLAN_INTERVAL = {0: "weekly", 1: "monthly", 2: "yearly", 3: "quarterly", 4: "semiannual"}
INVOICE_STATUS = {
    0: "draft",
    1: "finalized",
    2: "voided",
    3: "generating",
    4: "failed",
    5: "open",
    6: "closed",
    7: "pending",
    8: "deleted",
}
INVOICE_PAYMENT_STATUS = {0: "pending", 1: "succeeded", 2: "failed"}
FEE_PAYMENT_STATUS = {0: "pending", 1: "succeeded", 2: "failed", 3: "refunded"}
INVOICE_TYPE = {
    0: "subscription",
    1: "add_on",
    2: "credit",
    3: "one_off",
    4: "advance_charges",
    5: "progressive_billing",
}
FEE_TYPE = {
    0: "charge",
    1: "add_on",
    2: "subscription",
    3: "credit",
    4: "commitment",
    5: "fixed_charge",
    6: "product",
}
BILLING_TIME = {0: "calendar", 1: "anniversary"}
CHARGE_MODEL = {
    0: "standard",
    1: "graduated",
    2: "package",
    3: "percentage",
    4: "volume",
    5: "graduated_percentage",
    6: "custom",
    7: "dynamic",
}
AGGREGATION_TYPE = {
    0: "count_agg",
    1: "sum_agg",
    2: "max_agg",
    3: "unique_count_agg",
    5: "weighted_sum_agg",
    6: "latest_agg",
    7: "custom_agg",
}
COUPON_TYPE = {0: "fixed_amount", 1: "percentage"}
COUPON_FREQUENCY = {0: "once", 1: "recurring", 2: "forever"}
APPLIED_COUPON_STATUS = {0: "active", 1: "terminated"}
CREDIT_NOTE_REASON = {
    0: "duplicated_charge",
    1: "product_unsatisfactory",
    2: "order_change",
    3: "order_cancellation",
    4: "fraudulent_charge",
    5: "other",
}
# Lago stores payments.payable_payment_status as a PostgreSQL enum type (text values).
PAYMENT_STATUS_VALUES = ("pending", "processing", "succeeded", "failed")
# Keycloak event types this project reads (the source has many more; all are loaded).
KEYCLOAK_EVENT_TYPES = ("LOGIN", "LOGIN_ERROR", "REGISTER", "LOGOUT", "UPDATE_PROFILE", "CODE_TO_TOKEN")
LITELLM_CALL_TYPES = ("acompletion", "aembedding", "aimage_generation", "atranscription", "aspeech")
LITELLM_STATUS_VALUES = ("success", "failure")
LITELLM_CACHE_HIT_VALUES = ("True", "False", "None")

# Reference prices, USD per token (input, output) — SOURCES.md.
MODEL_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.5e-6, 1.0e-5),
    "gpt-4o-mini": (1.5e-7, 6.0e-7),
    "gpt-4.1": (2.0e-6, 8.0e-6),
    "gpt-4.1-mini": (4.0e-7, 1.6e-6),
    "o3-mini": (1.1e-6, 4.4e-6),
    "claude-sonnet-4-5": (3.0e-6, 1.5e-5),
    "claude-haiku-4-5": (1.0e-6, 5.0e-6),
    "gemini-2.5-pro": (1.25e-6, 1.0e-5),
    "gemini-2.5-flash": (3.0e-7, 2.5e-6),
    "text-embedding-3-small": (2.0e-8, 0.0),
}
MODEL_PROVIDERS = {
    "gpt-4o": "openai",
    "gpt-4o-mini": "openai",
    "gpt-4.1": "openai",
    "gpt-4.1-mini": "openai",
    "o3-mini": "openai",
    "text-embedding-3-small": "openai",
    "claude-sonnet-4-5": "anthropic",
    "claude-haiku-4-5": "anthropic",
    "gemini-2.5-pro": "vertex_ai",
    "gemini-2.5-flash": "vertex_ai",
}

# ISO 4217 codes (current and historic, from the CLDR data Babel ships).
CURRENCY_CODES: tuple[str, ...] = tuple(sorted(list_currencies()))

TS = "timestamp[us]"  # UTC, without time zone (as the sources store them)
ExtractMode = Literal["incremental", "snapshot", "append"]


@dataclass(frozen=True)
class Column:
    name: str
    type_name: str  # Arrow type alias, e.g. "int64", "timestamp[us]" (see `type`)
    required: bool = False  # NULL is a contract break
    enum: tuple[object, ...] | None = None  # allowed codes/values; anything else is a contract break
    nonnegative: bool = False  # money amounts, token counts: a negative value is a contract break

    @property
    def type(self) -> pa.DataType:
        return pa.type_for_alias(self.type_name)


@dataclass(frozen=True)
class SourceTable:
    """One source entity and how it is extracted into `raw`."""

    system: Literal["lago", "keycloak", "litellm"]
    name: str  # table name in the source database
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    mode: ExtractMode
    # incremental/append: columns ordering the cursor, e.g. ("updated_at", "id")
    cursor: tuple[str, ...] = ()
    # re-read window before the cursor, for late rows (batch flushes, clock skew)
    lookback: dt.timedelta = dt.timedelta(0)
    description: str = ""
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def raw_name(self) -> str:
        """Name of the table in the `raw` schema, e.g. `lago_customers`, `litellm_spendlogs`."""
        return f"{self.system}_{self.name.lower().removeprefix('litellm_')}"

    @property
    def key(self) -> str:
        return f"{self.system}.{self.name}"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.key} has no column {name!r}")

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.type, nullable=not c.required) for c in self.columns])


def _c(
    name: str, type_: str, required: bool = False, enum: dict | tuple | None = None, nonnegative: bool = False
) -> Column:
    codes = tuple(enum.keys()) if isinstance(enum, dict) else enum
    return Column(name, type_, required, codes, nonnegative)


def _money(name: str, required: bool = False) -> Column:
    """An amount in minor units; Lago stores refunds, credits and discounts as their own positive amounts."""
    return _c(name, I64, required, nonnegative=True)


def _currency(name: str, required: bool = False) -> Column:
    """An ISO 4217 code: a value outside the list would drop out of every FX conversion unnoticed."""
    return _c(name, S, required, enum=CURRENCY_CODES)


S, I32, I64, F64, B, D = "string", "int32", "int64", "double", "bool", "date32[day]"
_LAGO_TIMES = (_c("created_at", TS, True), _c("updated_at", TS, True))
_LAGO = {"mode": "incremental", "cursor": ("updated_at", "id"), "lookback": dt.timedelta(hours=1)}


def _lago(name: str, *columns: Column, description: str = "", soft_delete: bool = False) -> SourceTable:
    cols = (_c("id", S, True), *columns, *_LAGO_TIMES) + ((_c("deleted_at", TS),) if soft_delete else ())
    return SourceTable("lago", name, cols, ("id",), description=description, **_LAGO)


LAGO_TABLES: tuple[SourceTable, ...] = (
    _lago(
        "customers",
        _c("external_id", S, True),
        _c("name", S),
        _c("email", S),
        _c("country", S),
        _currency("currency"),
        _c("timezone", S),
        _c("customer_type", S),
        _c("net_payment_term", I32),
        soft_delete=True,
        description="Billing customers; external_id is the customer identity used everywhere else.",
    ),
    _lago(
        "plans",
        _c("code", S, True),
        _c("name", S),
        _c("interval", I32, True, PLAN_INTERVAL),
        _money("amount_cents", True),
        _currency("amount_currency", True),
        _c("trial_period", F64),
        _c("pay_in_advance", B),
        soft_delete=True,
    ),
    _lago(
        "billable_metrics",
        _c("code", S, True),
        _c("name", S),
        _c("aggregation_type", I32, True, AGGREGATION_TYPE),
        _c("field_name", S),
        soft_delete=True,
    ),
    _lago(
        "charges",
        _c("plan_id", S, True),
        _c("billable_metric_id", S, True),
        _c("charge_model", I32, True, CHARGE_MODEL),
        _c("properties", S),  # jsonb: package model {"amount", "free_units", "package_size"}
        _c("pay_in_advance", B),
        soft_delete=True,
    ),
    _lago(
        "coupons",
        _c("code", S, True),
        _c("name", S),
        _c("coupon_type", I32, True, COUPON_TYPE),
        _money("amount_cents"),
        _currency("amount_currency"),
        _c("percentage_rate", F64),
        _c("frequency", I32, True, COUPON_FREQUENCY),
        _c("frequency_duration", I32),
        soft_delete=True,
    ),
    _lago(
        "subscriptions",
        _c("external_id", S, True),
        _c("customer_id", S, True),
        _c("plan_id", S, True),
        _c("status", I32, True, SUBSCRIPTION_STATUS),
        _c("billing_time", I32, True, BILLING_TIME),
        _c("subscription_at", TS),
        _c("started_at", TS),
        _c("trial_ended_at", TS),
        _c("ending_at", TS),
        _c("terminated_at", TS),
        _c("canceled_at", TS),
        _c("previous_subscription_id", S),
        description="Upgrades terminate the old row and create a new one with the same external_id.",
    ),
    _lago(
        "applied_coupons",
        _c("coupon_id", S, True),
        _c("customer_id", S, True),
        _c("status", I32, True, APPLIED_COUPON_STATUS),
        _money("amount_cents"),
        _currency("amount_currency"),
        _c("percentage_rate", F64),
        _c("frequency", I32, True, COUPON_FREQUENCY),
        _c("frequency_duration", I32),
        _c("frequency_duration_remaining", I32),
        _c("terminated_at", TS),
    ),
    _lago(
        "invoices",
        _c("customer_id", S, True),
        _c("number", S, True),
        _c("issuing_date", D, True),
        _c("payment_due_date", D),
        _c("status", I32, True, INVOICE_STATUS),
        _c("payment_status", I32, True, INVOICE_PAYMENT_STATUS),
        _c("invoice_type", I32, True, INVOICE_TYPE),
        _currency("currency", True),
        _money("fees_amount_cents", True),
        _money("coupons_amount_cents", True),
        _money("taxes_amount_cents", True),
        _money("sub_total_excluding_taxes_amount_cents", True),
        _money("total_amount_cents", True),
    ),
    _lago(
        "invoice_subscriptions",
        _c("invoice_id", S, True),
        _c("subscription_id", S, True),
        _c("from_datetime", TS),
        _c("to_datetime", TS),
        _c("charges_from_datetime", TS),
        _c("charges_to_datetime", TS),
    ),
    _lago(
        "fees",
        _c("invoice_id", S),
        _c("subscription_id", S),
        _c("charge_id", S),
        _c("fee_type", I32, True, FEE_TYPE),
        _c("amount_cents", I64, True),
        _currency("amount_currency", True),
        _c("taxes_amount_cents", I64),
        _c("units", F64),
        _c("payment_status", I32, True, FEE_PAYMENT_STATUS),
        soft_delete=True,
    ),
    _lago(
        "payments",
        _c("invoice_id", S, True),
        _money("amount_cents", True),
        _currency("amount_currency", True),
        _c("payable_payment_status", S, True, PAYMENT_STATUS_VALUES),
    ),
    _lago(
        "credit_notes",
        _c("invoice_id", S, True),
        _c("customer_id", S, True),
        _c("number", S),
        _c("issuing_date", D, True),
        _c("reason", I32, True, CREDIT_NOTE_REASON),
        _currency("total_amount_currency"),
        _money("credit_amount_cents"),
        _money("refund_amount_cents"),
        _money("total_amount_cents"),
    ),
)

KEYCLOAK_TABLES: tuple[SourceTable, ...] = (
    SourceTable(
        "keycloak",
        "user_entity",
        (
            _c("id", S, True),
            _c("username", S, True),
            _c("email", S),
            _c("email_verified", B),
            _c("enabled", B),
            _c("first_name", S),
            _c("last_name", S),
            _c("created_timestamp", I64),  # epoch ms
            _c("realm_id", S, True),
            _c("service_account_client_link", S),
        ),
        ("id",),
        mode="snapshot",
        description="No updated-at and hard deletes: full snapshot, diffed against raw (deletions recorded).",
    ),
    SourceTable(
        "keycloak",
        "user_attribute",
        (_c("id", S, True), _c("user_id", S, True), _c("name", S, True), _c("value", S)),
        ("id",),
        mode="snapshot",
        description="customer_external_id, signup_channel and role per user.",
    ),
    SourceTable(
        "keycloak",
        "event_entity",
        (
            _c("id", S, True),
            _c("type", S, True),
            _c("event_time", I64, True),  # epoch ms
            _c("user_id", S),
            _c("session_id", S),
            _c("ip_address", S),
            _c("client_id", S),
            _c("realm_id", S, True),
            _c("error", S),
            _c("details_json", S),
        ),
        ("id",),
        mode="append",
        cursor=("event_time", "id"),
        lookback=dt.timedelta(hours=6),
        description="Login events; they expire at the source, so extract more often than the expiry.",
    ),
)

LITELLM_TABLES: tuple[SourceTable, ...] = (
    SourceTable(
        "litellm",
        "LiteLLM_SpendLogs",
        (
            _c("request_id", S, True),
            _c("call_type", S, True),
            _c("api_key", S),
            _c("spend", F64, True, nonnegative=True),
            _c("total_tokens", I64, nonnegative=True),
            _c("prompt_tokens", I64, nonnegative=True),
            _c("completion_tokens", I64, nonnegative=True),
            _c("startTime", TS, True),
            _c("endTime", TS),
            _c("completionStartTime", TS),
            _c("request_duration_ms", I64),
            _c("model", S, True),
            _c("model_group", S),
            _c("custom_llm_provider", S),
            _c("user", S),
            _c("end_user", S),
            _c("team_id", S),
            _c("organization_id", S),
            _c("metadata", S),  # jsonb
            _c("request_tags", S),  # jsonb
            _c("cache_hit", S, enum=(*LITELLM_CACHE_HIT_VALUES, "")),
            _c("cache_key", S),
            _c("status", S, enum=(*LITELLM_STATUS_VALUES, "")),
            _c("session_id", S),
        ),
        ("request_id",),
        mode="append",
        cursor=("startTime", "request_id"),
        lookback=dt.timedelta(days=2),
        description="One row per proxied LLM/API call; rows are batch-flushed and may arrive late.",
    ),
)

ALL_TABLES: tuple[SourceTable, ...] = LAGO_TABLES + KEYCLOAK_TABLES + LITELLM_TABLES
TABLES_BY_KEY: dict[str, SourceTable] = {t.key: t for t in ALL_TABLES}
TABLES_BY_RAW_NAME: dict[str, SourceTable] = {t.raw_name: t for t in ALL_TABLES}

# Columns every raw table carries besides the source's own.
RAW_META_COLUMNS = (
    Column("_loaded_at", TS, True),
    Column("_source", S, True),
    Column("_record_hash", S, True),
)
# Snapshot entities (hard deletes at the source) also record when a row disappeared.
RAW_DELETED_COLUMN = Column("_deleted_at", TS)


def table(key_or_raw_name: str) -> SourceTable:
    """Look up a source table by `system.name` or by its raw table name."""
    found = TABLES_BY_KEY.get(key_or_raw_name) or TABLES_BY_RAW_NAME.get(key_or_raw_name)
    if found is None:
        raise KeyError(f"unknown source table {key_or_raw_name!r}")
    return found
