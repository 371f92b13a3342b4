"""Lago REST connector (`/api/v1`): list endpoints -> the DB-shaped contract of schemas.py.

The raw contract is Lago's database shape, so API records are mapped back: `lago_id` -> `id`,
`lago_*_id` / nested `customer.lago_id` -> foreign keys, enum names -> Rails integer codes,
decimal strings -> numbers, ISO 8601 -> naive UTC timestamps.

Reading:
- `page`/`per_page` pagination following `meta.next_page`; records de-duplicated by id. When
  `meta.total_count` moves during a read, or the distinct ids do not add up to it (rows shifted
  between pages), the whole listing is read again (bounded) and merged by id.
- `subscriptions` asks for every status explicitly (the endpoint returns only active ones otherwise).
- `invoices` and `credit_notes` have no "updated since" filter: they are read by `issuing_date_from`
  = (stored cursor's `updated_at` minus the table lookback) minus `reread_days`, a trailing window
  re-read every run and merged on id. `fees` likewise by `created_at_from`. The other entities are
  small and read in full every run.
- A page that still fails after the HTTP retries raises `PageFetchError` (URL + page): the loader's
  transaction rolls back, the cursor stays, and the next run re-reads the same window.

What the API does not expose (documented in `API_GAPS`, checked by the API-vs-database test):
soft-deleted rows are not listed at all (so `deleted_at` is always NULL); several serializers have no
`updated_at` (it is derived as the latest timestamp the record carries); `invoice_subscriptions`
has no list endpoint (read it in database or files mode); timestamps are second precision (Rails
`iso8601`) except `subscriptions.started_at` (milliseconds).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from orchestration.sources.connectors import apimap
from orchestration.sources.connectors.http import BearerToken, HttpPolicy, JsonApiClient
from orchestration.sources.schemas import (
    AGGREGATION_TYPE,
    APPLIED_COUPON_STATUS,
    BILLING_TIME,
    CHARGE_MODEL,
    COUPON_FREQUENCY,
    COUPON_TYPE,
    CREDIT_NOTE_REASON,
    FEE_PAYMENT_STATUS,
    FEE_TYPE,
    INVOICE_PAYMENT_STATUS,
    INVOICE_STATUS,
    INVOICE_TYPE,
    PLAN_INTERVAL,
    SUBSCRIPTION_STATUS,
    SourceTable,
)

log = logging.getLogger(__name__)

Record = dict[str, Any]
Row = dict[str, Any]

ALL_SUBSCRIPTION_STATUSES = ("active", "pending", "terminated", "canceled")

_DELETED_NOT_LISTED = "soft-deleted records are not listed by the API"
_NO_UPDATED_AT = "the serializer has no updated_at; derived as the latest timestamp of the record"
# entity -> {column: why the API value can differ from the database value}
API_GAPS: dict[str, dict[str, str]] = {
    "customers": {"deleted_at": _DELETED_NOT_LISTED},
    "plans": {"updated_at": _NO_UPDATED_AT, "deleted_at": _DELETED_NOT_LISTED},
    "billable_metrics": {"updated_at": _NO_UPDATED_AT, "deleted_at": _DELETED_NOT_LISTED},
    "charges": {"updated_at": _NO_UPDATED_AT, "deleted_at": _DELETED_NOT_LISTED},
    "coupons": {"updated_at": _NO_UPDATED_AT, "deleted_at": _DELETED_NOT_LISTED},
    "subscriptions": {"updated_at": _NO_UPDATED_AT},
    "applied_coupons": {"updated_at": _NO_UPDATED_AT},
    "fees": {"updated_at": _NO_UPDATED_AT, "deleted_at": _DELETED_NOT_LISTED},
    "payments": {"updated_at": _NO_UPDATED_AT},
}
UNAVAILABLE = {
    "invoice_subscriptions": "Lago has no list endpoint for invoice_subscriptions (billing periods are only embedded "
    "in single-invoice responses); set `fallback_url:` (the Lago database) in the lago api section, or use database "
    "or files mode"
}


def _latest(*values: Any) -> Any:
    present = [v for v in values if v is not None and not isinstance(v, str)]
    return max(present) if present else next((v for v in values if v is not None), None)


# --- record mappers: API JSON -> DB-shaped row --------------------------------------------------
ts, day, num = apimap.timestamp, apimap.date, apimap.number


def _customer(r: Record) -> Row:
    return {
        "id": r.get("lago_id"),
        **{k: r.get(k) for k in ("external_id", "name", "email", "country", "currency", "timezone", "customer_type")},
        "net_payment_term": r.get("net_payment_term"),
        "created_at": ts(r.get("created_at")),
        "updated_at": ts(r.get("updated_at")),
        "deleted_at": None,
    }


def _plan(r: Record) -> Row:
    created = ts(r.get("created_at"))
    return {
        "id": r.get("lago_id"),
        "code": r.get("code"),
        "name": r.get("name"),
        "interval": apimap.enum_code(r.get("interval"), PLAN_INTERVAL),
        "amount_cents": r.get("amount_cents"),
        "amount_currency": r.get("amount_currency"),
        "trial_period": num(r.get("trial_period")),
        "pay_in_advance": r.get("pay_in_advance"),
        "created_at": created,
        "updated_at": created,
        "deleted_at": None,
    }


def _charges(plan: Record) -> list[Row]:
    rows = []
    for c in plan.get("charges") or []:
        created = ts(c.get("created_at"))
        properties = c.get("properties")
        rows.append(
            {
                "id": c.get("lago_id"),
                "plan_id": plan.get("lago_id"),
                "billable_metric_id": c.get("lago_billable_metric_id"),
                "charge_model": apimap.enum_code(c.get("charge_model"), CHARGE_MODEL),
                "properties": None if properties is None else json.dumps(properties),
                "pay_in_advance": c.get("pay_in_advance"),
                "created_at": created,
                "updated_at": created,
                "deleted_at": None,
            }
        )
    return rows


def _billable_metric(r: Record) -> Row:
    created = ts(r.get("created_at"))
    return {
        "id": r.get("lago_id"),
        "code": r.get("code"),
        "name": r.get("name"),
        "aggregation_type": apimap.enum_code(r.get("aggregation_type"), AGGREGATION_TYPE),
        "field_name": r.get("field_name"),
        "created_at": created,
        "updated_at": created,
        "deleted_at": None,
    }


def _coupon(r: Record) -> Row:
    created = ts(r.get("created_at"))
    return {
        "id": r.get("lago_id"),
        "code": r.get("code"),
        "name": r.get("name"),
        "coupon_type": apimap.enum_code(r.get("coupon_type"), COUPON_TYPE),
        "amount_cents": r.get("amount_cents"),
        "amount_currency": r.get("amount_currency"),
        "percentage_rate": num(r.get("percentage_rate")),
        "frequency": apimap.enum_code(r.get("frequency"), COUPON_FREQUENCY),
        "frequency_duration": r.get("frequency_duration"),
        "created_at": created,
        "updated_at": _latest(created, ts(r.get("terminated_at"))),
        "deleted_at": None,
    }


def _subscription(r: Record) -> Row:
    times = {
        k: ts(r.get(k))
        for k in (
            "subscription_at",
            "started_at",
            "trial_ended_at",
            "ending_at",
            "terminated_at",
            "canceled_at",
            "created_at",
        )
    }
    return {
        "id": r.get("lago_id"),
        "external_id": r.get("external_id"),
        "customer_id": r.get("lago_customer_id"),
        "plan_id": None,  # resolved from plan_code (the list does not embed the plan)
        "status": apimap.enum_code(r.get("status"), SUBSCRIPTION_STATUS),
        "billing_time": apimap.enum_code(r.get("billing_time"), BILLING_TIME),
        **times,
        "previous_subscription_id": None,  # resolved from previous_plan_code
        "updated_at": _latest(
            *(times[k] for k in ("created_at", "started_at", "trial_ended_at", "terminated_at", "canceled_at"))
        ),
    }


def _applied_coupon(r: Record) -> Row:
    created, terminated = ts(r.get("created_at")), ts(r.get("terminated_at"))
    return {
        "id": r.get("lago_id"),
        "coupon_id": r.get("lago_coupon_id"),
        "customer_id": r.get("lago_customer_id"),
        "status": apimap.enum_code(r.get("status"), APPLIED_COUPON_STATUS),
        "amount_cents": r.get("amount_cents"),
        "amount_currency": r.get("amount_currency"),
        "percentage_rate": num(r.get("percentage_rate")),
        "frequency": apimap.enum_code(r.get("frequency"), COUPON_FREQUENCY),
        "frequency_duration": r.get("frequency_duration"),
        "frequency_duration_remaining": r.get("frequency_duration_remaining"),
        "terminated_at": terminated,
        "created_at": created,
        "updated_at": _latest(created, terminated),
    }


_INVOICE_AMOUNTS = (
    "fees_amount_cents",
    "coupons_amount_cents",
    "taxes_amount_cents",
    "sub_total_excluding_taxes_amount_cents",
    "total_amount_cents",
)


def _invoice(r: Record) -> Row:
    customer = r.get("customer") or {}
    return {
        "id": r.get("lago_id"),
        "customer_id": customer.get("lago_id", r.get("lago_customer_id")),
        "number": r.get("number"),
        "issuing_date": day(r.get("issuing_date")),
        "payment_due_date": day(r.get("payment_due_date")),
        "status": apimap.enum_code(r.get("status"), INVOICE_STATUS),
        "payment_status": apimap.enum_code(r.get("payment_status"), INVOICE_PAYMENT_STATUS),
        "invoice_type": apimap.enum_code(r.get("invoice_type"), INVOICE_TYPE),
        "currency": r.get("currency"),
        **{k: r.get(k) for k in _INVOICE_AMOUNTS},
        "created_at": ts(r.get("created_at")),
        "updated_at": ts(r.get("updated_at")),
    }


def _fee(r: Record) -> Row:
    created = ts(r.get("created_at"))
    item = r.get("item") or {}
    return {
        "id": r.get("lago_id"),
        "invoice_id": r.get("lago_invoice_id"),
        "subscription_id": r.get("lago_subscription_id"),
        "charge_id": r.get("lago_charge_id"),
        "fee_type": apimap.enum_code(item.get("type"), FEE_TYPE),
        "amount_cents": r.get("amount_cents"),
        "amount_currency": r.get("amount_currency"),
        "taxes_amount_cents": r.get("taxes_amount_cents"),
        "units": num(r.get("units")),
        "payment_status": apimap.enum_code(r.get("payment_status"), FEE_PAYMENT_STATUS),
        "created_at": created,
        "updated_at": _latest(created, *(ts(r.get(k)) for k in ("succeeded_at", "failed_at", "refunded_at"))),
        "deleted_at": None,
    }


def _payment(r: Record) -> Row:
    created = ts(r.get("created_at"))
    invoice_ids = r.get("invoice_ids") or []
    return {
        "id": r.get("lago_id"),
        "invoice_id": invoice_ids[0] if len(invoice_ids) == 1 else None,
        "amount_cents": r.get("amount_cents"),
        "amount_currency": r.get("amount_currency"),
        "payable_payment_status": r.get("payment_status"),
        "created_at": created,
        "updated_at": created,
    }


def _credit_note(r: Record) -> Row:
    customer = r.get("customer") or {}
    return {
        "id": r.get("lago_id"),
        "invoice_id": r.get("lago_invoice_id"),
        "customer_id": customer.get("lago_id"),
        "number": r.get("number"),
        "issuing_date": day(r.get("issuing_date")),
        "reason": apimap.enum_code(r.get("reason"), CREDIT_NOTE_REASON),
        "total_amount_currency": r.get("currency"),
        "credit_amount_cents": r.get("credit_amount_cents"),
        "refund_amount_cents": r.get("refund_amount_cents"),
        "total_amount_cents": r.get("total_amount_cents"),
        "created_at": ts(r.get("created_at")),
        "updated_at": ts(r.get("updated_at")),
    }


@dataclass(frozen=True)
class Endpoint:
    path: str  # under /api/v1
    collection: str  # key of the record list in the response
    to_rows: Callable[[Record], list[Row]]
    params: tuple[tuple[str, str], ...] = ()
    window_param: str | None = None  # trailing-window filter (date), e.g. issuing_date_from
    extra: dict[str, Any] = field(default_factory=dict)


def _one(mapper: Callable[[Record], Row]) -> Callable[[Record], list[Row]]:
    return lambda record: [mapper(record)]


ENDPOINTS: dict[str, Endpoint] = {
    "customers": Endpoint("customers", "customers", _one(_customer)),
    "plans": Endpoint("plans", "plans", _one(_plan)),
    "charges": Endpoint("plans", "plans", _charges),
    "billable_metrics": Endpoint("billable_metrics", "billable_metrics", _one(_billable_metric)),
    "coupons": Endpoint("coupons", "coupons", _one(_coupon)),
    "subscriptions": Endpoint(
        "subscriptions",
        "subscriptions",
        _one(_subscription),
        params=tuple(("status[]", s) for s in ALL_SUBSCRIPTION_STATUSES),
    ),
    "applied_coupons": Endpoint("applied_coupons", "applied_coupons", _one(_applied_coupon)),
    "invoices": Endpoint("invoices", "invoices", _one(_invoice), window_param="issuing_date_from"),
    "fees": Endpoint("fees", "fees", _one(_fee), window_param="created_at_from"),
    "payments": Endpoint("payments", "payments", _one(_payment)),
    "credit_notes": Endpoint("credit_notes", "credit_notes", _one(_credit_note), window_param="issuing_date_from"),
}


def _subscription_link(record: Record) -> tuple[Row, str | None, str | None]:
    return _subscription(record), record.get("plan_code"), record.get("previous_plan_code")


class ApiShapeError(RuntimeError):
    """A 200 response that is not the documented list shape."""


@dataclass
class ListingStats:
    pages: int = 0
    passes: int = 0
    records: int = 0


class LagoApiConnector:
    """`SourceConnector` for Lago's REST API (see the module docstring for the read strategy)."""

    label = "api"

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        per_page: int = 100,
        reread_days: int = 60,
        max_passes: int = 3,
        policy: HttpPolicy | None = None,
    ) -> None:
        base = base_url.rstrip("/")
        self.client = JsonApiClient(
            base if base.endswith("/api/v1") else f"{base}/api/v1", policy=policy, auth=BearerToken(token)
        )
        self.per_page = per_page
        self.reread_days = reread_days
        self.max_passes = max_passes
        self.stats = ListingStats()

    # --- SourceConnector -----------------------------------------------------------------------
    def source_columns(self, table: SourceTable) -> list[str]:
        self._endpoint(table)
        return list(table.column_names)

    def read(
        self, table: SourceTable, lower_bound: tuple[str, object] | None = None, batch_rows: int = 250_000
    ) -> pa.RecordBatchReader:
        return self.read_table(table, lower_bound).to_reader(max_chunksize=batch_rows)

    def close(self) -> None:
        self.client.close()

    # --- reading -------------------------------------------------------------------------------
    def read_table(self, table: SourceTable, lower_bound: tuple[str, object] | None = None) -> pa.Table:
        endpoint = self._endpoint(table)
        params = list(endpoint.params)
        if endpoint.window_param and lower_bound is not None:
            since = lower_bound[1]
            since_date = since.date() if hasattr(since, "date") else since
            params.append((endpoint.window_param, (since_date - dt.timedelta(days=self.reread_days)).isoformat()))
        if table.name == "subscriptions":  # keep what the cross-record links need, not whole records
            kept = self.list_records(endpoint.path, endpoint.collection, params, keep=_subscription_link)
            self._resolve_subscription_links(kept)
            rows = [row for row, _, _ in kept]
        else:
            rows = [
                row
                for rows in self.list_records(endpoint.path, endpoint.collection, params, keep=endpoint.to_rows)
                for row in rows
            ]
        unique = {row["id"]: row for row in rows}  # charges can repeat across plan versions
        return apimap.to_arrow(table, unique.values())

    def list_records(
        self, path: str, collection: str, params: list[tuple[str, str]], keep: Callable[[Record], Any] = lambda r: r
    ) -> list[Any]:
        """`keep(record)` of every record of a paginated listing, read until one pass is self-consistent (bounded).

        Records are reduced by `keep` as each page arrives, so a 100k-row listing never holds raw JSON.
        """
        merged: dict[str, Any] = {}
        for attempt in range(1, self.max_passes + 1):
            records, totals = self._one_pass(path, collection, params, keep)
            merged.update(records)
            self.stats.passes += 1
            if len(totals) == 1 and len(records) == totals.pop():
                break
            log.warning(
                "lago %s changed while paging (pass %d: %d distinct ids, total_count %s); reading again",
                path,
                attempt,
                len(records),
                sorted(totals),
            )
        self.stats.records += len(merged)
        return list(merged.values())

    def _one_pass(
        self, path: str, collection: str, params: list[tuple[str, str]], keep: Callable[[Record], Any]
    ) -> tuple[dict[str, Any], set]:
        records: dict[str, Any] = {}
        totals: set[int] = set()
        page: int | None = 1
        max_pages: int | None = None
        while page is not None:
            doc = self.client.get_json(path, [*params, ("page", page), ("per_page", self.per_page)], page=page)
            self.stats.pages += 1
            items, meta = self._check_shape(doc, path, collection, page)
            totals.add(int(meta["total_count"]))
            for record in items:
                records[record["lago_id"]] = keep(record)
            if max_pages is None:  # bound the loop: the listing may grow a little while we read
                max_pages = int(meta.get("total_pages") or 1) * 2 + 10
            next_page = meta.get("next_page")
            if next_page is not None and (int(next_page) <= page or int(next_page) > max_pages):
                raise ApiShapeError(f"lago {path}: meta.next_page {next_page} after page {page} is not progressing")
            page = None if next_page is None else int(next_page)
        return records, totals

    @staticmethod
    def _check_shape(doc: Any, path: str, collection: str, page: int) -> tuple[list[Record], dict[str, Any]]:
        if (
            not isinstance(doc, dict)
            or not isinstance(doc.get(collection), list)
            or not isinstance(doc.get("meta"), dict)
        ):
            raise ApiShapeError(f"lago {path} page {page}: expected {{{collection!r}: [...], 'meta': {{...}}}}")
        meta = doc["meta"]
        if "total_count" not in meta:
            raise ApiShapeError(f"lago {path} page {page}: meta has no total_count")
        for record in doc[collection]:
            if not isinstance(record, dict) or not record.get("lago_id"):
                raise ApiShapeError(f"lago {path} page {page}: a record without lago_id: {str(record)[:200]}")
        return doc[collection], meta

    def _resolve_subscription_links(self, kept: list[tuple[Row, str | None, str | None]]) -> None:
        """plan_id from plan_code (plans list); previous_subscription_id from (external_id, previous_plan_code)."""
        plans = {p["code"]: p["lago_id"] for p in self.list_records("plans", "plans", [])}
        by_external: dict[str, list[tuple[Row, str | None, str | None]]] = {}
        for row, plan_code, previous_code in kept:
            # a plan deleted since stays unresolved: the loader rejects the row (plan_id required)
            row["plan_id"] = plans.get(plan_code)
            by_external.setdefault(row["external_id"], []).append((row, plan_code, previous_code))
        for chain in by_external.values():
            chain.sort(key=lambda link: (link[0]["created_at"] or dt.datetime.min, link[0]["id"]))
            for i, (row, _, previous_code) in enumerate(chain):
                if not previous_code:
                    continue
                # the latest earlier row of the same external_id that ran the previous plan
                for earlier, earlier_plan, _ in reversed(chain[:i]):
                    if earlier_plan == previous_code:
                        row["previous_subscription_id"] = earlier["id"]
                        break

    def _endpoint(self, table: SourceTable) -> Endpoint:
        if table.system != "lago":
            raise LookupError(f"the Lago API connector cannot read {table.key}")
        if table.name in UNAVAILABLE:
            raise LookupError(f"source 'lago' (api): {UNAVAILABLE[table.name]}")
        if table.name not in ENDPOINTS:
            raise LookupError(f"source 'lago' (api): no endpoint mapped for {table.name!r}")
        return ENDPOINTS[table.name]


def records_to_rows(entity: str, records: Iterable[Record]) -> list[Row]:
    """Map API records of one entity to DB-shaped rows (no cross-record resolution)."""
    endpoint = ENDPOINTS[entity]
    return [row for record in records for row in endpoint.to_rows(record)]
