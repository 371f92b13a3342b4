"""Small deterministic source tables in the contract shape, independent of the simulator.

Used where a test or benchmark needs a precise volume (e.g. 100k invoices) rather than a simulated
company; every value respects schemas.py (enums, required columns, second-precision Lago times).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid

import pyarrow as pa

from orchestration.sources.schemas import TABLES_BY_KEY

START = dt.datetime(2025, 1, 1)


def _uuid(rnd: random.Random) -> str:
    return str(uuid.UUID(int=rnd.getrandbits(128), version=4))


def _table(key: str, rows: list[dict]) -> pa.Table:
    spec = TABLES_BY_KEY[key]
    return pa.Table.from_pylist([{c: r.get(c) for c in spec.column_names} for r in rows], schema=spec.arrow_schema)


def lago_tables(n_customers: int = 50, invoices_per_customer: int = 6, seed: int = 1) -> dict[str, pa.Table]:
    rnd = random.Random(seed)
    t = lambda days: START + dt.timedelta(seconds=int(days * 86400))  # noqa: E731
    metric = {
        "id": _uuid(rnd),
        "code": "tokens",
        "name": "Tokens",
        "aggregation_type": 1,
        "field_name": "tokens",
        "created_at": START,
        "updated_at": START,
        "deleted_at": None,
    }
    plans, charges = [], []
    for i, (code, interval, cents) in enumerate([("starter", 1, 2900), ("pro", 1, 9900), ("pro_annual", 2, 99000)]):
        plan = {
            "id": _uuid(rnd),
            "code": code,
            "name": code.title(),
            "interval": interval,
            "amount_cents": cents,
            "amount_currency": "USD",
            "trial_period": 14.0 if i == 0 else 0.0,
            "pay_in_advance": True,
            "created_at": t(i),
            "updated_at": t(i),
            "deleted_at": None,
        }
        plans.append(plan)
        charges.append(
            {
                "id": _uuid(rnd),
                "plan_id": plan["id"],
                "billable_metric_id": metric["id"],
                "charge_model": 2,
                "properties": json.dumps({"amount": "5", "free_units": 1000, "package_size": 1000}),
                "pay_in_advance": False,
                "created_at": t(i),
                "updated_at": t(i),
                "deleted_at": None,
            }
        )
    coupon = {
        "id": _uuid(rnd),
        "code": "WELCOME",
        "name": "Welcome",
        "coupon_type": 1,
        "amount_cents": None,
        "amount_currency": None,
        "percentage_rate": 10.0,
        "frequency": 1,
        "frequency_duration": 3,
        "created_at": START,
        "updated_at": START,
        "deleted_at": None,
    }
    customers, subs, invoices, fees, payments, applied, notes, inv_subs = [], [], [], [], [], [], [], []
    number = 0
    for c in range(n_customers):
        created = t(c * 0.5 + rnd.random())
        customer = {
            "id": _uuid(rnd),
            "external_id": f"cust_{c:06d}",
            "name": f"Customer {c}",
            "email": f"billing@c{c}.example.com",
            "country": rnd.choice(["US", "FR", "DE", "JP"]),
            "currency": "USD",
            "timezone": "UTC",
            "customer_type": "company",
            "net_payment_term": 30,
            "created_at": created,
            "updated_at": created + dt.timedelta(hours=1),
            "deleted_at": None,
        }
        customers.append(customer)
        plan = plans[c % 2]
        first = {
            "id": _uuid(rnd),
            "external_id": f"sub_{c:06d}",
            "customer_id": customer["id"],
            "plan_id": plan["id"],
            "status": 1,
            "billing_time": 1,
            "subscription_at": created,
            "started_at": created,
            "trial_ended_at": None,
            "ending_at": None,
            "terminated_at": None,
            "canceled_at": None,
            "previous_subscription_id": None,
            "created_at": created,
            "updated_at": created,
        }
        subs.append(first)
        if c % 5 == 0:  # an upgrade: old row terminated, new row with the same external_id
            moved = created + dt.timedelta(days=40)
            first.update(status=2, terminated_at=moved, updated_at=moved)
            subs.append(
                {
                    **first,
                    "id": _uuid(rnd),
                    "plan_id": plans[2]["id"],
                    "status": 1,
                    "started_at": moved,
                    "terminated_at": None,
                    "previous_subscription_id": first["id"],
                    "created_at": moved,
                    "updated_at": moved,
                    "subscription_at": created,
                }
            )
        if c % 7 == 0:
            applied.append(
                {
                    "id": _uuid(rnd),
                    "coupon_id": coupon["id"],
                    "customer_id": customer["id"],
                    "status": 0,
                    "amount_cents": None,
                    "amount_currency": None,
                    "percentage_rate": 10.0,
                    "frequency": 1,
                    "frequency_duration": 3,
                    "frequency_duration_remaining": 2,
                    "terminated_at": None,
                    "created_at": created,
                    "updated_at": created,
                }
            )
        for k in range(invoices_per_customer):
            number += 1
            issued = created + dt.timedelta(days=30 * k)
            total = plan["amount_cents"]
            invoice = {
                "id": _uuid(rnd),
                "customer_id": customer["id"],
                "number": f"INV-{number:07d}",
                "issuing_date": issued.date(),
                "payment_due_date": issued.date() + dt.timedelta(days=30),
                "status": 1,
                "payment_status": rnd.choice([0, 1, 1, 1, 2]),
                "invoice_type": 0,
                "currency": "USD",
                "fees_amount_cents": total,
                "coupons_amount_cents": 0,
                "taxes_amount_cents": 0,
                "sub_total_excluding_taxes_amount_cents": total,
                "total_amount_cents": total,
                "created_at": issued,
                "updated_at": issued + dt.timedelta(seconds=rnd.randint(0, 86400 * 20)),
            }
            invoices.append(invoice)
            fees.append(
                {
                    "id": _uuid(rnd),
                    "invoice_id": invoice["id"],
                    "subscription_id": first["id"],
                    "charge_id": None,
                    "fee_type": 2,
                    "amount_cents": total,
                    "amount_currency": "USD",
                    "taxes_amount_cents": 0,
                    "units": 1.0,
                    "payment_status": invoice["payment_status"],
                    "created_at": issued,
                    "updated_at": issued,
                    "deleted_at": None,
                }
            )
            inv_subs.append(
                {
                    "id": _uuid(rnd),
                    "invoice_id": invoice["id"],
                    "subscription_id": first["id"],
                    "from_datetime": issued,
                    "to_datetime": issued + dt.timedelta(days=30),
                    "charges_from_datetime": None,
                    "charges_to_datetime": None,
                    "created_at": issued,
                    "updated_at": issued,
                }
            )
            if invoice["payment_status"] == 1:
                payments.append(
                    {
                        "id": _uuid(rnd),
                        "invoice_id": invoice["id"],
                        "amount_cents": total,
                        "amount_currency": "USD",
                        "payable_payment_status": "succeeded",
                        "created_at": issued + dt.timedelta(days=1),
                        "updated_at": issued + dt.timedelta(days=1),
                    }
                )
            if k == 1 and c % 11 == 0:
                notes.append(
                    {
                        "id": _uuid(rnd),
                        "invoice_id": invoice["id"],
                        "customer_id": customer["id"],
                        "number": f"CN-{number:07d}",
                        "issuing_date": issued.date() + dt.timedelta(days=3),
                        "reason": 5,
                        "total_amount_currency": "USD",
                        "credit_amount_cents": 0,
                        "refund_amount_cents": total,
                        "total_amount_cents": total,
                        "created_at": issued + dt.timedelta(days=3),
                        "updated_at": issued + dt.timedelta(days=3),
                    }
                )
    data = {
        "customers": customers,
        "plans": plans,
        "billable_metrics": [metric],
        "charges": charges,
        "coupons": [coupon],
        "subscriptions": subs,
        "applied_coupons": applied,
        "invoices": invoices,
        "invoice_subscriptions": inv_subs,
        "fees": fees,
        "payments": payments,
        "credit_notes": notes,
    }
    return {f"lago.{name}": _table(f"lago.{name}", rows) for name, rows in data.items()}


def keycloak_tables(n_users: int = 120, n_events: int = 600, realm_id: str = "b6f0c1a2-realm", seed: int = 2):
    rnd = random.Random(seed)
    users, attributes, events = [], [], []
    base_ms = int(START.timestamp() * 1000)
    for u in range(n_users):
        user_id = _uuid(rnd)
        users.append(
            {
                "id": user_id,
                "username": f"user{u:05d}",
                "email": f"user{u:05d}@example.com",
                "email_verified": u % 3 != 0,
                "enabled": True,
                "first_name": f"First{u}",
                "last_name": None,
                "created_timestamp": base_ms + u * 3_600_000,
                "realm_id": realm_id,
                "service_account_client_link": None,
            }
        )
        for name, value in (("customer_external_id", f"cust_{u // 3:06d}"), ("role", rnd.choice(["admin", "member"]))):
            attributes.append({"id": _uuid(rnd), "user_id": user_id, "name": name, "value": value})
    for e in range(n_events):
        user = users[rnd.randrange(n_users)]
        kind = rnd.choice(["LOGIN", "LOGIN", "LOGIN", "LOGOUT", "LOGIN_ERROR"])
        events.append(
            {
                "id": _uuid(rnd),
                "type": kind,
                "event_time": base_ms + e * 60_000 // 7 * 7 + (e % 3),  # some share a millisecond
                "user_id": user["id"],
                "session_id": _uuid(rnd),
                "ip_address": f"10.0.{e % 250}.{e % 7}",
                "client_id": "web-app",
                "realm_id": realm_id,
                "error": "invalid_user_credentials" if kind == "LOGIN_ERROR" else None,
                "details_json": json.dumps(
                    {"auth_method": "openid-connect", "username": user["username"]}, separators=(",", ":")
                ),
            }
        )
    return {
        "keycloak.user_entity": _table("keycloak.user_entity", users),
        "keycloak.user_attribute": _table("keycloak.user_attribute", attributes),
        "keycloak.event_entity": _table("keycloak.event_entity", events),
    }
