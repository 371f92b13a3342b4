"""A fake Lago API (`/api/v1`) serving DB-shaped source tables in Lago's documented JSON shapes.

Built from the same tables the simulator writes for database mode (`{"lago.customers": pa.Table, …}`),
so a test can extract both ways and compare. The serializers follow lago-api's V1 serializers: `lago_id`,
enum names instead of codes, decimals as strings, second-precision ISO 8601 times (`started_at`: ms),
nested `customer` on invoices and credit notes, charges embedded in plans, soft-deleted rows not listed,
subscriptions filtered by `status[]` (active only by default), invoices/credit notes by
`issuing_date_from/to`, fees by `created_at_from/to`; lists ordered newest first.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from orchestration.sources import schemas as s
from tests.fakes.server import FakeApiServer, HttpError, Params, paginate

Row = dict[str, Any]


def iso(value: dt.datetime | None, *, ms: bool = False) -> str | None:
    if value is None:
        return None
    if ms:
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_date(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def decimal_text(value: float | None) -> str | None:
    return None if value is None else repr(float(value))


class FakeLagoApi(FakeApiServer):
    def __init__(self, tables: dict[str, pa.Table], token: str = "lago-test-token") -> None:
        super().__init__(token)
        self.rows: dict[str, list[Row]] = {}
        for key, table in tables.items():
            system, name = key.split(".", 1)
            if system == "lago":
                self.rows[name] = table.to_pylist()
        self._version = 0
        self._cache: dict[tuple, list[Row]] = {}

    # --- data changes (tests) ------------------------------------------------------------------
    def upsert(self, entity: str, rows: list[Row]) -> None:
        with self.lock:
            by_id = {r["id"]: i for i, r in enumerate(self.rows[entity])}
            for row in rows:
                if row["id"] in by_id:
                    self.rows[entity][by_id[row["id"]]] = row
                else:
                    self.rows[entity].append(row)
            self._version += 1
            self._cache.clear()

    # --- routing -------------------------------------------------------------------------------
    def handle(self, method: str, path: str, params: Params, form: Params) -> object:
        prefix = "/api/v1/"
        if method != "GET" or not path.startswith(prefix):
            raise HttpError(404, {"status": 404, "error": "Not Found"})
        resource = path[len(prefix) :].strip("/")
        lister = self._listers().get(resource)
        if lister is None:
            raise HttpError(404, {"status": 404, "error": "Not Found", "code": f"{resource}_not_found"})
        records, serialize = lister(params)
        chunk, meta = paginate(records, params)
        return {resource: [serialize(r) for r in chunk], "meta": meta}

    def _listers(self) -> dict[str, Callable[[Params], tuple[list[Row], Callable[[Row], dict]]]]:
        return {
            "customers": lambda p: (self._listing("customers", p), self._customer),
            "plans": lambda p: (self._listing("plans", p), self._plan),
            "billable_metrics": lambda p: (self._listing("billable_metrics", p), self._billable_metric),
            "coupons": lambda p: (self._listing("coupons", p), self._coupon),
            "subscriptions": lambda p: (self._listing("subscriptions", p), self._subscription),
            "applied_coupons": lambda p: (self._listing("applied_coupons", p), self._applied_coupon),
            "invoices": lambda p: (self._listing("invoices", p), self._invoice),
            "fees": lambda p: (self._listing("fees", p), self._fee),
            "payments": lambda p: (self._listing("payments", p), self._payment),
            "credit_notes": lambda p: (self._listing("credit_notes", p), self._credit_note),
        }

    def _listing(self, entity: str, params: Params) -> list[Row]:
        """Filtered, ordered rows (cached per filter until the data changes)."""
        filters = {k: tuple(v) for k, v in params.items() if k not in ("page", "per_page")}
        key = (entity, tuple(sorted(filters.items())), self._version)
        with self.lock:
            cached = self._cache.get(key)
            if cached is not None:
                return cached
            rows = list(self.rows.get(entity, []))
        if rows and "deleted_at" in rows[0]:
            rows = [r for r in rows if r["deleted_at"] is None]
        if entity == "subscriptions":
            wanted = set(params.get("status[]") or ["active"])
            rows = [r for r in rows if s.SUBSCRIPTION_STATUS[r["status"]] in wanted]
        if entity in ("invoices", "credit_notes"):
            rows = _date_window(rows, "issuing_date", params, "issuing_date")
        if entity == "fees":
            rows = _date_window(rows, "created_at", params, "created_at")
        if entity == "invoices":
            rows.sort(key=lambda r: (r["issuing_date"], r["created_at"], r["id"]), reverse=True)
        else:
            rows.sort(key=lambda r: (r["created_at"], r["id"]), reverse=True)
        with self.lock:
            self._cache[key] = rows
        return rows

    def _by_id(self, entity: str) -> dict[str, Row]:
        key = ("by_id", entity, self._version)
        cached = self._cache.get(key)
        if cached is None:
            cached = {r["id"]: r for r in self.rows.get(entity, [])}
            self._cache[key] = cached  # type: ignore[assignment]
        return cached  # type: ignore[return-value]

    # --- serializers (shapes of lago-api app/serializers/v1) ------------------------------------
    def _customer(self, r: Row) -> dict:
        return {
            "lago_id": r["id"],
            "billing_entity_code": "default",
            "external_id": r["external_id"],
            "account_type": "customer",
            "name": r["name"],
            "firstname": None,
            "lastname": None,
            "customer_type": r["customer_type"],
            "sequential_id": None,
            "slug": None,
            "created_at": iso(r["created_at"]),
            "updated_at": iso(r["updated_at"]),
            "country": r["country"],
            "address_line1": None,
            "address_line2": None,
            "state": None,
            "zipcode": None,
            "email": r["email"],
            "city": None,
            "url": None,
            "phone": None,
            "logo_url": None,
            "legal_name": None,
            "legal_number": None,
            "currency": r["currency"],
            "tax_identification_number": None,
            "timezone": r["timezone"],
            "applicable_timezone": r["timezone"] or "UTC",
            "net_payment_term": r["net_payment_term"],
            "external_salesforce_id": None,
            "finalize_zero_amount_invoice": "inherit",
            "billing_configuration": {
                "invoice_grace_period": None,
                "payment_provider": None,
                "payment_provider_code": None,
                "document_locale": None,
            },
            "shipping_address": {"address_line1": None, "city": None, "country": None},
            "skip_invoice_custom_sections": False,
            "metadata": [],
        }

    def _plan(self, r: Row) -> dict:
        charges = [c for c in self.rows.get("charges", []) if c["plan_id"] == r["id"] and c["deleted_at"] is None]
        return {
            "lago_id": r["id"],
            "name": r["name"],
            "invoice_display_name": None,
            "created_at": iso(r["created_at"]),
            "code": r["code"],
            "interval": s.PLAN_INTERVAL[r["interval"]],
            "description": None,
            "amount_cents": r["amount_cents"],
            "amount_currency": r["amount_currency"],
            "trial_period": r["trial_period"],
            "pay_in_advance": r["pay_in_advance"],
            "bill_charges_monthly": None,
            "customers_count": 0,
            "active_subscriptions_count": 0,
            "draft_invoices_count": 0,
            "parent_id": None,
            "charges": [self._charge(c) for c in charges],
            "usage_thresholds": [],
            "taxes": [],
        }

    def _charge(self, c: Row) -> dict:
        metric = self._by_id("billable_metrics").get(c["billable_metric_id"], {})
        return {
            "lago_id": c["id"],
            "lago_billable_metric_id": c["billable_metric_id"],
            "invoice_display_name": None,
            "billable_metric_code": metric.get("code"),
            "created_at": iso(c["created_at"]),
            "charge_model": s.CHARGE_MODEL[c["charge_model"]],
            "invoiceable": True,
            "regroup_paid_fees": None,
            "pay_in_advance": c["pay_in_advance"],
            "prorated": False,
            "min_amount_cents": 0,
            "properties": None if c["properties"] is None else json.loads(c["properties"]),
            "filters": [],
            "taxes": [],
        }

    def _billable_metric(self, r: Row) -> dict:
        return {
            "lago_id": r["id"],
            "name": r["name"],
            "code": r["code"],
            "description": None,
            "aggregation_type": s.AGGREGATION_TYPE[r["aggregation_type"]],
            "weighted_interval": None,
            "recurring": False,
            "rounding_function": None,
            "rounding_precision": None,
            "created_at": iso(r["created_at"]),
            "field_name": r["field_name"],
            "expression": None,
            "filters": [],
        }

    def _coupon(self, r: Row) -> dict:
        return {
            "lago_id": r["id"],
            "name": r["name"],
            "code": r["code"],
            "description": None,
            "coupon_type": s.COUPON_TYPE[r["coupon_type"]],
            "amount_cents": r["amount_cents"],
            "amount_currency": r["amount_currency"],
            "percentage_rate": decimal_text(r["percentage_rate"]),
            "frequency": s.COUPON_FREQUENCY[r["frequency"]],
            "frequency_duration": r["frequency_duration"],
            "reusable": True,
            "limited_plans": False,
            "plan_codes": [],
            "limited_billable_metrics": False,
            "billable_metric_codes": [],
            "created_at": iso(r["created_at"]),
            "expiration": "no_expiration",
            "expiration_at": None,
            "terminated_at": None,
        }

    def _subscription(self, r: Row) -> dict:
        plans, subs, customers = self._by_id("plans"), self._by_id("subscriptions"), self._by_id("customers")
        plan = plans.get(r["plan_id"], {})
        previous = subs.get(r["previous_subscription_id"]) if r["previous_subscription_id"] else None
        nxt = self._next_subscription().get(r["id"])
        return {
            "lago_id": r["id"],
            "external_id": r["external_id"],
            "lago_customer_id": r["customer_id"],
            "external_customer_id": customers.get(r["customer_id"], {}).get("external_id"),
            "name": None,
            "plan_code": plan.get("code"),
            "plan_amount_cents": plan.get("amount_cents"),
            "plan_amount_currency": plan.get("amount_currency"),
            "status": s.SUBSCRIPTION_STATUS[r["status"]],
            "billing_time": s.BILLING_TIME[r["billing_time"]],
            "subscription_at": iso(r["subscription_at"]),
            "started_at": iso(r["started_at"], ms=True),
            "trial_ended_at": iso(r["trial_ended_at"]),
            "ending_at": iso(r["ending_at"]),
            "terminated_at": iso(r["terminated_at"]),
            "canceled_at": iso(r["canceled_at"]),
            "created_at": iso(r["created_at"]),
            "previous_plan_code": plans.get(previous["plan_id"], {}).get("code") if previous else None,
            "next_plan_code": plans.get(nxt["plan_id"], {}).get("code") if nxt else None,
            "downgrade_plan_date": None,
            "current_billing_period_started_at": None,
            "current_billing_period_ending_at": None,
            "on_termination_credit_note": None,
            "on_termination_invoice": "generate",
            "progressive_billing_disabled": False,
            "consolidate_invoice": False,
            "payment_method": {"payment_method_id": None, "payment_method_type": "provider"},
        }

    def _next_subscription(self) -> dict[str, Row]:
        key = ("next_subscription", self._version)
        cached = self._cache.get(key)
        if cached is None:
            cached = {
                r["previous_subscription_id"]: r
                for r in self.rows.get("subscriptions", [])
                if r["previous_subscription_id"]
            }
            self._cache[key] = cached  # type: ignore[assignment]
        return cached  # type: ignore[return-value]

    def _applied_coupon(self, r: Row) -> dict:
        coupon = self._by_id("coupons").get(r["coupon_id"], {})
        customer = self._by_id("customers").get(r["customer_id"], {})
        return {
            "lago_id": r["id"],
            "lago_coupon_id": r["coupon_id"],
            "coupon_code": coupon.get("code"),
            "coupon_name": coupon.get("name"),
            "lago_customer_id": r["customer_id"],
            "external_customer_id": customer.get("external_id"),
            "status": s.APPLIED_COUPON_STATUS[r["status"]],
            "amount_cents": r["amount_cents"],
            "amount_cents_remaining": None,
            "amount_currency": r["amount_currency"],
            "percentage_rate": decimal_text(r["percentage_rate"]),
            "frequency": s.COUPON_FREQUENCY[r["frequency"]],
            "frequency_duration": r["frequency_duration"],
            "frequency_duration_remaining": r["frequency_duration_remaining"],
            "expiration_at": None,
            "created_at": iso(r["created_at"]),
            "terminated_at": iso(r["terminated_at"]),
        }

    def _customer_nested(self, customer_id: str) -> dict | None:
        customer = self._by_id("customers").get(customer_id)
        return None if customer is None else self._customer(customer)

    def _invoice(self, r: Row) -> dict:
        return {
            "lago_id": r["id"],
            "billing_entity_code": "default",
            "sequential_id": None,
            "number": r["number"],
            "issuing_date": iso_date(r["issuing_date"]),
            "payment_due_date": iso_date(r["payment_due_date"]),
            "net_payment_term": None,
            "invoice_type": s.INVOICE_TYPE[r["invoice_type"]],
            "status": s.INVOICE_STATUS[r["status"]],
            "payment_status": s.INVOICE_PAYMENT_STATUS[r["payment_status"]],
            "payment_dispute_lost_at": None,
            "payment_overdue": False,
            "currency": r["currency"],
            "fees_amount_cents": r["fees_amount_cents"],
            "taxes_amount_cents": r["taxes_amount_cents"],
            "progressive_billing_credit_amount_cents": 0,
            "coupons_amount_cents": r["coupons_amount_cents"],
            "credit_notes_amount_cents": 0,
            "sub_total_excluding_taxes_amount_cents": r["sub_total_excluding_taxes_amount_cents"],
            "sub_total_including_taxes_amount_cents": r["sub_total_excluding_taxes_amount_cents"]
            + r["taxes_amount_cents"],
            "total_amount_cents": r["total_amount_cents"],
            "total_due_amount_cents": r["total_amount_cents"],
            "prepaid_credit_amount_cents": 0,
            "file_url": None,
            "xml_url": None,
            "version_number": 4,
            "self_billed": False,
            "created_at": iso(r["created_at"]),
            "updated_at": iso(r["updated_at"]),
            "voided_at": None,
            "customer": self._customer_nested(r["customer_id"]),
            "metadata": [],
            "applied_taxes": [],
        }

    def _fee(self, r: Row) -> dict:
        sub = self._by_id("subscriptions").get(r["subscription_id"]) if r["subscription_id"] else None
        return {
            "lago_id": r["id"],
            "lago_charge_id": r["charge_id"],
            "lago_charge_filter_id": None,
            "lago_invoice_id": r["invoice_id"],
            "lago_true_up_fee_id": None,
            "lago_true_up_parent_fee_id": None,
            "lago_subscription_id": r["subscription_id"],
            "external_subscription_id": sub["external_id"] if sub else None,
            "lago_customer_id": sub["customer_id"] if sub else None,
            "external_customer_id": None,
            "item": {
                "type": s.FEE_TYPE[r["fee_type"]],
                "code": None,
                "name": None,
                "description": None,
                "invoice_display_name": None,
                "filters": None,
                "filter_invoice_display_name": None,
                "lago_item_id": None,
                "item_type": None,
                "grouped_by": {},
            },
            "pay_in_advance": False,
            "invoiceable": True,
            "amount_cents": r["amount_cents"],
            "amount_currency": r["amount_currency"],
            "precise_amount": r["amount_cents"] / 100,
            "precise_total_amount": r["amount_cents"] / 100,
            "taxes_amount_cents": r["taxes_amount_cents"],
            "taxes_precise_amount": None,
            "taxes_rate": 0.0,
            "total_aggregated_units": decimal_text(r["units"]),
            "total_amount_cents": r["amount_cents"] + (r["taxes_amount_cents"] or 0),
            "total_amount_currency": r["amount_currency"],
            "units": decimal_text(r["units"]),
            "description": None,
            "precise_unit_amount": None,
            "precise_coupons_amount_cents": "0.0",
            "events_count": None,
            "payment_status": s.FEE_PAYMENT_STATUS[r["payment_status"]],
            "created_at": iso(r["created_at"]),
            "succeeded_at": None,
            "failed_at": None,
            "refunded_at": None,
            "amount_details": {},
            "self_billed": False,
            "pricing_unit_details": None,
        }

    def _payment(self, r: Row) -> dict:
        return {
            "lago_id": r["id"],
            "invoice_ids": [r["invoice_id"]],
            "amount_cents": r["amount_cents"],
            "amount_currency": r["amount_currency"],
            "payment_status": r["payable_payment_status"],
            "type": "provider",
            "reference": None,
            "external_payment_id": None,
            "created_at": iso(r["created_at"]),
        }

    def _credit_note(self, r: Row) -> dict:
        invoice = self._by_id("invoices").get(r["invoice_id"], {})
        return {
            "lago_id": r["id"],
            "billing_entity_code": "default",
            "sequential_id": None,
            "number": r["number"],
            "lago_invoice_id": r["invoice_id"],
            "invoice_number": invoice.get("number"),
            "issuing_date": iso_date(r["issuing_date"]),
            "credit_status": "available" if r["credit_amount_cents"] else None,
            "refund_status": "succeeded" if r["refund_amount_cents"] else None,
            "reason": s.CREDIT_NOTE_REASON[r["reason"]],
            "description": None,
            "currency": r["total_amount_currency"],
            "total_amount_cents": r["total_amount_cents"],
            "precise_total_amount_cents": None,
            "taxes_amount_cents": 0,
            "sub_total_excluding_taxes_amount_cents": r["total_amount_cents"],
            "balance_amount_cents": r["credit_amount_cents"],
            "credit_amount_cents": r["credit_amount_cents"],
            "refund_amount_cents": r["refund_amount_cents"],
            "coupons_adjustment_amount_cents": 0,
            "taxes_rate": 0.0,
            "created_at": iso(r["created_at"]),
            "updated_at": iso(r["updated_at"]),
            "file_url": None,
            "self_billed": False,
            "customer": self._customer_nested(r["customer_id"]),
            "items": [],
            "applied_taxes": [],
        }


def _date_window(rows: list[Row], column: str, params: Params, param_prefix: str) -> list[Row]:
    """Lago's `<x>_from` / `<x>_to` filters (inclusive, dates or ISO times)."""
    low, high = params.get(f"{param_prefix}_from", [None])[0], params.get(f"{param_prefix}_to", [None])[0]

    def as_key(value: Any) -> str:
        return value.isoformat() if isinstance(value, dt.date) else str(value)

    if low:
        rows = [r for r in rows if r[column] is not None and as_key(r[column]) >= low]
    if high:
        rows = [r for r in rows if r[column] is not None and as_key(r[column])[: len(high)] <= high]
    return rows
