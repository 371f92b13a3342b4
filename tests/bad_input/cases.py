"""Malformed source inputs and the outcome each must end in.

Every case is a small batch of good rows of one entity plus the malformed input, delivered through one channel:
- `database`: a source database in the sources' own shape, every column stored as text (a DuckDB file;
  `postgres_database`: a PostgreSQL source database), read by the database connector;
- `csv`, `jsonl`, `parquet`: a file drop in the landing folder, read by the file connector.

Outcomes (the only three allowed):
- LOADED: every row lands in raw (a quirk the contract accepts, stored exactly);
- REJECTED: the malformed rows go to raw._rejects with the field and a reason, the good rows land in raw;
- STOPPED: nothing of the batch is loaded and the cursor does not move; the error (an exception, or for a file
  drop the quarantine reason recorded in raw._file_drops) names the source, the entity and the field.
In every case rows received = rows loaded + rows rejected, and no good row of the batch is lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as default

LOADED, REJECTED, STOPPED = "loaded", "rejected", "stopped"
BAD_KEY = "bad"  # key suffix of the malformed row: `<case>-bad`


@dataclass(frozen=True)
class Case:
    name: str
    channel: str  # database | postgres_database | csv | jsonl | parquet
    entity: str  # source table key, e.g. "lago.invoices"
    outcome: str
    bad: dict[str, object] = default(default_factory=dict)  # overrides of the malformed row ({} : no such row)
    field: str | None = None  # the field the reject/error must name
    reason: str | None = None  # regex the reject reason / error message must match
    rename: dict[str, str] = default(default_factory=dict)  # schema drift: source column renamed
    drop: tuple[str, ...] = ()  # schema drift: source column dropped
    add: dict[str, object] = default(default_factory=dict)  # schema drift: unexpected new source column
    good_rows: int = 3
    duplicate_of_good: bool = False  # the malformed row reuses the key of good row 0
    previous: str | None = None  # an earlier extraction first: "same_rows_later" (source then moves back)
    raw_bytes: bytes | None = None  # file channels: a byte string spliced into the bad row's `field` value


CASES: tuple[Case, ...] = (
    # --- wrong types ---------------------------------------------------------------------------------------
    Case(
        "integer_not_a_number",
        "database",
        "lago.invoices",
        REJECTED,
        {"total_amount_cents": "12.5x"},
        "total_amount_cents",
        r"cannot parse '12\.5x' as bigint",
    ),
    Case(
        "boolean_not_a_boolean",
        "database",
        "lago.plans",
        REJECTED,
        {"pay_in_advance": "maybe"},
        "pay_in_advance",
        r"cannot parse 'maybe' as boolean",
    ),
    Case(
        "epoch_ms_not_a_number",
        "database",
        "keycloak.user_entity",
        REJECTED,
        {"created_timestamp": "last week"},
        "created_timestamp",
        r"cannot parse 'last week' as bigint",
    ),
    Case(
        "float_not_a_number",
        "database",
        "litellm.LiteLLM_SpendLogs",
        REJECTED,
        {"spend": "0,0012"},
        "spend",
        r"cannot parse '0,0012' as number",
    ),
    Case(
        "csv_integer_not_a_number",
        "csv",
        "lago.invoices",
        REJECTED,
        {"fees_amount_cents": "abc"},
        "fees_amount_cents",
        r"cannot parse 'abc' as bigint",
    ),
    Case(
        "parquet_string_in_integer_column",
        "parquet",
        "lago.payments",
        REJECTED,
        {"amount_cents": "1e3x"},
        "amount_cents",
        r"cannot parse '1e3x' as bigint",
    ),
    # --- unparseable timestamps and dates ------------------------------------------------------------------
    Case(
        "timestamp_month_13",
        "database",
        "lago.subscriptions",
        REJECTED,
        {"started_at": "2026-13-01 00:00:00"},
        "started_at",
        r"cannot parse '2026-13-01 00:00:00' as timestamp",
    ),
    Case(
        "date_in_local_format",
        "database",
        "lago.invoices",
        REJECTED,
        {"issuing_date": "31/10/2026"},
        "issuing_date",
        r"cannot parse '31/10/2026' as date",
    ),
    Case(
        "cursor_timestamp_garbage",
        "database",
        "litellm.LiteLLM_SpendLogs",
        REJECTED,
        {"startTime": "not-a-time"},
        "startTime",
        r"cannot parse 'not-a-time' as timestamp",
    ),
    Case(
        "event_time_garbage",
        "database",
        "keycloak.event_entity",
        REJECTED,
        {"event_time": "2026-10-01"},
        "event_time",
        r"cannot parse '2026-10-01' as bigint",
    ),
    Case(
        "jsonl_timestamp_garbage",
        "jsonl",
        "lago.customers",
        REJECTED,
        {"updated_at": "yesterday"},
        "updated_at",
        r"cannot parse 'yesterday' as timestamp",
    ),
    # --- negative amounts ----------------------------------------------------------------------------------
    Case(
        "negative_payment",
        "database",
        "lago.payments",
        REJECTED,
        {"amount_cents": "-500"},
        "amount_cents",
        r"negative value -500",
    ),
    Case(
        "negative_plan_price",
        "database",
        "lago.plans",
        REJECTED,
        {"amount_cents": "-100"},
        "amount_cents",
        r"negative value -100",
    ),
    Case(
        "negative_invoice_total",
        "csv",
        "lago.invoices",
        REJECTED,
        {"total_amount_cents": "-1"},
        "total_amount_cents",
        r"negative value -1",
    ),
    Case(
        "negative_llm_spend",
        "database",
        "litellm.LiteLLM_SpendLogs",
        REJECTED,
        {"spend": "-0.5"},
        "spend",
        r"negative value -0\.5",
    ),
    Case(
        "negative_token_count",
        "postgres_database",
        "litellm.LiteLLM_SpendLogs",
        REJECTED,
        {"prompt_tokens": "-20"},
        "prompt_tokens",
        r"negative value -20",
    ),
    # --- unknown enum codes --------------------------------------------------------------------------------
    Case(
        "subscription_status_9",
        "database",
        "lago.subscriptions",
        REJECTED,
        {"status": "9"},
        "status",
        r"unknown enum code 9",
    ),
    Case(
        "plan_interval_7",
        "postgres_database",
        "lago.plans",
        REJECTED,
        {"interval": "7"},
        "interval",
        r"unknown enum code 7",
    ),
    Case(
        "payment_status_text",
        "database",
        "lago.payments",
        REJECTED,
        {"payable_payment_status": "refunded"},
        "payable_payment_status",
        r"unknown enum code refunded",
    ),
    Case(
        "llm_status_timeout",
        "database",
        "litellm.LiteLLM_SpendLogs",
        REJECTED,
        {"status": "timeout"},
        "status",
        r"unknown enum code timeout",
    ),
    Case(
        "jsonl_invoice_type_99",
        "jsonl",
        "lago.invoices",
        REJECTED,
        {"invoice_type": 99},
        "invoice_type",
        r"unknown enum code 99",
    ),
    # --- unknown currency ----------------------------------------------------------------------------------
    Case(
        "unknown_currency_code",
        "database",
        "lago.invoices",
        REJECTED,
        {"currency": "XYZ"},
        "currency",
        r"unknown enum code XYZ",
    ),
    Case(
        "lowercase_currency_code",
        "csv",
        "lago.payments",
        REJECTED,
        {"amount_currency": "eur"},
        "amount_currency",
        r"unknown enum code eur",
    ),
    # --- missing required fields ---------------------------------------------------------------------------
    Case(
        "missing_external_id",
        "database",
        "lago.customers",
        REJECTED,
        {"external_id": None},
        "external_id",
        r"required value missing",
    ),
    Case(
        "empty_primary_key",
        "database",
        "lago.invoices",
        REJECTED,
        {"id": ""},
        "id",
        r"field id: required value missing",
    ),
    Case(
        "missing_realm",
        "postgres_database",
        "keycloak.user_entity",
        REJECTED,
        {"realm_id": None},
        "realm_id",
        r"required value missing",
    ),
    Case(
        "parquet_missing_model",
        "parquet",
        "litellm.LiteLLM_SpendLogs",
        REJECTED,
        {"model": None},
        "model",
        r"required value missing",
    ),
    # --- duplicate keys ------------------------------------------------------------------------------------
    Case(
        "duplicate_key_conflicting_content",
        "database",
        "lago.customers",
        REJECTED,
        {"name": "Other name"},
        "id",
        r"duplicate key with conflicting content",
        duplicate_of_good=True,
    ),
    Case("duplicate_key_identical_rows", "csv", "lago.subscriptions", LOADED, {}, duplicate_of_good=True),
    # --- oversized strings ---------------------------------------------------------------------------------
    Case("oversized_name_1mb", "database", "lago.customers", LOADED, {"name": "N" * 1_000_000}),
    Case(
        "oversized_llm_metadata",
        "parquet",
        "litellm.LiteLLM_SpendLogs",
        LOADED,
        {"metadata": '{"prompt": "' + "p" * 500_000 + '"}'},
    ),
    # --- invalid UTF-8 in file drops -----------------------------------------------------------------------
    Case(
        "csv_latin1_name",
        "csv",
        "lago.customers",
        REJECTED,
        {"name": "Caf?"},
        "name",
        r"invalid UTF-8 in 'Caf\\xE9'",
        raw_bytes=b"Caf\xe9",
    ),
    Case(
        "csv_truncated_multibyte_value",
        "csv",
        "keycloak.user_attribute",
        REJECTED,
        {"value": "x?"},
        "value",
        r"invalid UTF-8 in 'x\\xE2\\x82'",
        raw_bytes=b"x\xe2\x82",
    ),
    Case(
        "parquet_invalid_utf8_binary",
        "parquet",
        "lago.customers",
        REJECTED,
        {"email": "a?@b.com"},
        "email",
        r"invalid UTF-8 in 'a\\xFF@b\.com'",
        raw_bytes=b"a\xff@b.com",
    ),
    Case(
        "jsonl_invalid_utf8",
        "jsonl",
        "lago.customers",
        REJECTED,
        {"name": "Caf?"},
        "name",
        r"invalid UTF-8 in 'Caf\\xE9'",
        raw_bytes=b"Caf\xe9",
    ),
    # --- schema drift ----------------------------------------------------------------------------------------
    Case(
        "renamed_column",
        "database",
        "lago.invoices",
        STOPPED,
        field="total_amount_cents",
        reason=r"schema drift in source 'lago'.*entity 'invoices'.*'total_amount_cents' missing",
        rename={"total_amount_cents": "total_cents"},
    ),
    Case(
        "dropped_column",
        "database",
        "keycloak.user_entity",
        STOPPED,
        field="realm_id",
        reason=r"schema drift in source 'keycloak'.*entity 'user_entity'.*'realm_id' missing",
        drop=("realm_id",),
    ),
    Case(
        "renamed_cursor_column_postgres",
        "postgres_database",
        "keycloak.event_entity",
        STOPPED,
        field="event_time",
        reason=r"schema drift in source 'keycloak'.*entity 'event_entity'.*'event_time' missing",
        rename={"event_time": "time"},
    ),
    Case(
        "csv_dropped_column",
        "csv",
        "lago.customers",
        STOPPED,
        field="external_id",
        reason=r"contract column\(s\) missing for lago\.customers: external_id",
        drop=("external_id",),
    ),
    Case(
        "unexpected_new_column",
        "database",
        "litellm.LiteLLM_SpendLogs",
        LOADED,
        field="mcp_tool_name",
        reason=r"unexpected source column\(s\) not loaded: mcp_tool_name",
        add={"mcp_tool_name": "search"},
    ),
    # --- empty extracts and a source that moved back in time -----------------------------------------------
    Case("empty_table", "database", "lago.plans", LOADED, good_rows=0),
    Case(
        "empty_snapshot_after_load",
        "database",
        "keycloak.user_entity",
        LOADED,
        good_rows=0,
        reason=r"empty snapshot from the source: deletions not applied",
        previous="same_rows_later",
    ),
    Case(
        "source_moved_back_in_time",
        "database",
        "lago.customers",
        LOADED,
        reason=r"is behind the stored cursor .*: cursor kept",
        previous="same_rows_later",
    ),
)
