"""The staging layer on each engine: raw rows loaded by the real loader, then a real Dagster + dbt build of
the staging group, then the views checked against the staging contract (/work/coord/STAGING_CONTRACT.md)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pytest

from orchestration.assets.dbt import build_dbt_assets
from orchestration.extract.loader import load_batches
from orchestration.resources.dbt import dbt_resource
from orchestration.resources.warehouse import WarehouseResource
from orchestration.settings import Settings
from orchestration.sources import schemas

T0 = dt.datetime(2026, 1, 1, 0, 0, 0)
EPOCH_MS = 1767225600123  # 2026-01-01 00:00:00.123 UTC


def _times(**extra: object) -> dict[str, object]:
    return {"created_at": T0, "updated_at": T0, **extra}


RAW_ROWS: dict[str, list[dict[str, object]]] = {
    "lago.customers": [
        _times(
            id="c_us",
            external_id="cus_us",
            name="Acme",
            email="billing@Acme.com",
            country="US",
            currency="USD",
            timezone="",
            customer_type="company",
            net_payment_term=30,
        ),
        _times(
            id="c_jp",
            external_id="cus_jp",
            name="Tokyo KK",
            email="ops@Internal.Example.com",
            currency="JPY",
            deleted_at=dt.datetime(2026, 2, 1),
        ),
        _times(id="c_eu", external_id="cus_eu", name="", email="", currency="EUR"),
    ],
    "lago.plans": [
        _times(
            id="p_pro",
            code="pro_monthly",
            name="Pro",
            interval=1,
            amount_cents=4999,
            amount_currency="USD",
            trial_period=14.0,
            pay_in_advance=True,
        ),
        _times(id="p_ent", code="enterprise_yearly_jpy", interval=2, amount_cents=1200000, amount_currency="JPY"),
        _times(id="p_free", code="free", interval=0, amount_cents=0, amount_currency="EUR"),
        _times(id="p_start", code="starter_quarterly", interval=3, amount_cents=2997, amount_currency="EUR"),
        _times(id="p_half", code="starter_semiannual", interval=4, amount_cents=5994, amount_currency="EUR"),
    ],
    "lago.billable_metrics": [_times(id="bm_1", code="api_calls", name="API calls", aggregation_type=5)],
    "lago.charges": [
        _times(
            id="ch_1",
            plan_id="p_pro",
            billable_metric_id="bm_1",
            charge_model=2,
            properties='{"amount": "10.5", "free_units": 1000, "package_size": 100}',
        ),
        _times(id="ch_2", plan_id="p_ent", billable_metric_id="bm_1", charge_model=0, properties=""),
    ],
    "lago.coupons": [
        _times(
            id="cp_fix",
            code="WELCOME",
            coupon_type=0,
            amount_cents=1000,
            amount_currency="USD",
            frequency=1,
            frequency_duration=3,
        ),
        _times(id="cp_pct", code="PARTNER20", coupon_type=1, percentage_rate=20.0, frequency=2),
    ],
    "lago.subscriptions": [
        _times(
            id="s_1",
            external_id="sub_1",
            customer_id="c_us",
            plan_id="p_pro",
            status=1,
            billing_time=1,
            started_at=T0,
            previous_subscription_id="",
        ),
        _times(
            id="s_2",
            external_id="sub_2",
            customer_id="c_jp",
            plan_id="p_ent",
            status=2,
            billing_time=0,
            started_at=T0,
            terminated_at=dt.datetime(2026, 3, 1),
        ),
        _times(
            id="s_3",
            external_id="sub_1",
            customer_id="c_us",
            plan_id="p_start",
            status=0,
            billing_time=1,
            previous_subscription_id="s_1",
        ),
    ],
    "lago.applied_coupons": [
        _times(
            id="ac_1",
            coupon_id="cp_fix",
            customer_id="c_us",
            status=0,
            amount_cents=1000,
            amount_currency="USD",
            frequency=1,
            frequency_duration=3,
            frequency_duration_remaining=2,
        ),
    ],
    "lago.invoices": [
        _times(
            id="i_us",
            customer_id="c_us",
            number="ACME-001",
            issuing_date=dt.date(2026, 1, 1),
            payment_due_date=dt.date(2026, 1, 31),
            status=1,
            payment_status=1,
            invoice_type=0,
            currency="USD",
            fees_amount_cents=4999,
            coupons_amount_cents=1000,
            taxes_amount_cents=800,
            sub_total_excluding_taxes_amount_cents=3999,
            total_amount_cents=4799,
        ),
        _times(
            id="i_jp",
            customer_id="c_jp",
            number="TKY-001",
            issuing_date=dt.date(2026, 1, 1),
            status=1,
            payment_status=2,
            invoice_type=4,
            currency="JPY",
            fees_amount_cents=1200000,
            coupons_amount_cents=0,
            taxes_amount_cents=120000,
            sub_total_excluding_taxes_amount_cents=1200000,
            total_amount_cents=1320000,
        ),
    ],
    "lago.invoice_subscriptions": [
        _times(
            id="is_1",
            invoice_id="i_us",
            subscription_id="s_1",
            from_datetime=T0,
            to_datetime=dt.datetime(2026, 1, 31, 23, 59, 59),
        ),
    ],
    "lago.fees": [
        _times(
            id="f_1",
            invoice_id="i_us",
            subscription_id="s_1",
            fee_type=2,
            amount_cents=4999,
            amount_currency="USD",
            taxes_amount_cents=800,
            units=1.0,
            payment_status=3,
        ),
        _times(
            id="f_2",
            invoice_id="i_jp",
            subscription_id="s_2",
            charge_id="ch_2",
            fee_type=0,
            amount_cents=1200,
            amount_currency="JPY",
            units=2.5,
            payment_status=0,
        ),
    ],
    "lago.payments": [
        _times(
            id="pay_1", invoice_id="i_us", amount_cents=4799, amount_currency="USD", payable_payment_status="succeeded"
        ),
    ],
    "lago.credit_notes": [
        _times(
            id="cn_1",
            invoice_id="i_us",
            customer_id="c_us",
            number="CN-1",
            issuing_date=dt.date(2026, 1, 5),
            reason=5,
            total_amount_currency="USD",
            credit_amount_cents=0,
            refund_amount_cents=4799,
            total_amount_cents=4799,
        ),
    ],
    "keycloak.user_entity": [
        {
            "id": "u_1",
            "username": "alice",
            "email": "alice@acme.com",
            "email_verified": True,
            "enabled": True,
            "first_name": "",
            "last_name": "Liddell",
            "created_timestamp": EPOCH_MS,
            "realm_id": "saas",
        },
        {
            "id": "u_svc",
            "username": "service-account-billing",
            "email": "bot@internal.example.com",
            "enabled": True,
            "created_timestamp": EPOCH_MS,
            "realm_id": "saas",
            "service_account_client_link": "client-1",
        },
    ],
    "keycloak.user_attribute": [
        {"id": "a_1", "user_id": "u_1", "name": "customer_external_id", "value": "cus_us"},
        {"id": "a_2", "user_id": "u_1", "name": "role", "value": ""},
    ],
    "keycloak.event_entity": [
        {
            "id": "e_1",
            "type": "LOGIN",
            "event_time": EPOCH_MS,
            "user_id": "u_1",
            "session_id": "",
            "ip_address": "10.0.0.1",
            "client_id": "web",
            "realm_id": "saas",
            "error": "",
            "details_json": '{"auth_method": "openid-connect"}',
        },
    ],
    "litellm.LiteLLM_SpendLogs": [
        {
            "request_id": "r_chat",
            "call_type": "acompletion",
            "api_key": "",
            "spend": 0.0123,
            "prompt_tokens": 100,
            "completion_tokens": 50,
            "total_tokens": 150,
            "startTime": T0,
            "endTime": dt.datetime(2026, 1, 1, 0, 0, 1),
            "request_duration_ms": 850,
            "model": "gpt-4o",
            "model_group": "",
            "custom_llm_provider": "openai",
            "user": "u_1",
            "end_user": "cus_us",
            "team_id": "",
            "metadata": "{}",
            "request_tags": "[]",
            "cache_hit": "True",
            "cache_key": "",
            "status": "success",
            "session_id": "",
        },
        {
            "request_id": "r_embed",
            "call_type": "aembedding",
            "spend": 0.0,
            "startTime": T0,
            "model": "text-embedding-3-small",
            "cache_hit": "None",
            "status": "",
        },
        {
            "request_id": "r_other",
            "call_type": "atext_completion",
            "spend": 0.5,
            "startTime": T0,
            "model": "gpt-4.1",
            "cache_hit": "False",
            "status": "failure",
        },
    ],
}

# Column lists of the staging contract, in order (+ loaded_at on every model).
CONTRACT: dict[str, list[str]] = {
    "stg_lago__customers": "customer_id customer_external_id customer_name email email_domain country currency "
    "timezone customer_type net_payment_term is_internal created_at updated_at deleted_at is_deleted",
    "stg_lago__plans": "plan_id plan_code plan_name tier billing_interval interval_months amount currency "
    "trial_period_days pay_in_advance created_at updated_at deleted_at",
    "stg_lago__billable_metrics": "billable_metric_id billable_metric_code billable_metric_name aggregation_type "
    "field_name created_at updated_at deleted_at",
    "stg_lago__charges": "charge_id plan_id billable_metric_id charge_model package_amount free_units package_size "
    "properties pay_in_advance created_at updated_at deleted_at",
    "stg_lago__coupons": "coupon_id coupon_code coupon_name coupon_type amount currency percentage_rate frequency "
    "frequency_duration created_at updated_at deleted_at",
    "stg_lago__subscriptions": "subscription_id subscription_external_id customer_id plan_id status billing_time "
    "subscription_at started_at trial_ended_at ending_at terminated_at canceled_at previous_subscription_id "
    "created_at updated_at",
    "stg_lago__applied_coupons": "applied_coupon_id coupon_id customer_id status amount currency percentage_rate "
    "frequency frequency_duration frequency_duration_remaining created_at updated_at terminated_at",
    "stg_lago__invoices": "invoice_id customer_id invoice_number issuing_date payment_due_date status "
    "payment_status invoice_type currency fees_amount coupons_amount taxes_amount sub_total_excluding_taxes_amount "
    "total_amount created_at updated_at",
    "stg_lago__invoice_subscriptions": "invoice_subscription_id invoice_id subscription_id from_datetime "
    "to_datetime charges_from_datetime charges_to_datetime created_at updated_at",
    "stg_lago__fees": "fee_id invoice_id subscription_id charge_id fee_type amount currency taxes_amount units "
    "payment_status created_at updated_at deleted_at",
    "stg_lago__payments": "payment_id invoice_id amount currency payment_status created_at updated_at",
    "stg_lago__credit_notes": "credit_note_id invoice_id customer_id credit_note_number issuing_date reason "
    "currency credit_amount refund_amount total_amount created_at updated_at",
    "stg_keycloak__users": "user_id username email email_domain is_email_verified is_enabled first_name "
    "last_name created_at realm_id is_service_account is_internal deleted_at is_deleted",
    "stg_keycloak__user_attributes": "user_attribute_id user_id attribute_name attribute_value deleted_at",
    "stg_keycloak__events": "event_id event_type event_at user_id session_id ip_address client_id realm_id error "
    "details_json",
    "stg_litellm__spend_logs": "request_id call_type service api_key spend prompt_tokens completion_tokens "
    "total_tokens started_at ended_at completion_started_at request_duration_ms model model_group provider user_id "
    "customer_external_id team_id organization_id is_cache_hit cache_key status is_success session_id "
    "request_tags metadata",
}


def _load_raw(warehouse: WarehouseResource) -> None:
    for key, rows in RAW_ROWS.items():
        table = schemas.table(key)
        result = load_batches(
            warehouse, table, pa.Table.from_pylist(rows, schema=table.arrow_schema), source_label="test"
        )
        assert result.rows_rejected == 0, (key, result.metadata())
    # A second snapshot without the service account: the loader records its deletion (_deleted_at).
    users = schemas.table("keycloak.user_entity")
    rows = [r for r in RAW_ROWS["keycloak.user_entity"] if r["id"] != "u_svc"]
    load_batches(warehouse, users, pa.Table.from_pylist(rows, schema=users.arrow_schema), source_label="test")


@pytest.fixture(scope="module")
def staged(make_settings, dbt_manifest_path: Path) -> tuple[Settings, dg.ExecuteInProcessResult]:
    settings = make_settings(
        "staging", internal_email_domains=("internal.example.com",), as_of_date=dt.date(2026, 3, 1)
    )
    warehouse = WarehouseResource.from_settings(settings)
    _load_raw(warehouse)
    manifest = json.loads(dbt_manifest_path.read_text())
    result = dg.materialize(
        build_dbt_assets(settings, manifest),
        selection=dg.AssetSelection.groups("staging"),
        resources={"dbt": dbt_resource(settings)},
        raise_on_error=False,
    )
    return settings, result


def _rows(settings: Settings, sql: str) -> list[tuple]:
    with WarehouseResource.from_settings(settings).connect() as session:
        return session.query(sql)


def _by_id(settings: Settings, model: str, id_column: str, columns: str) -> dict[str, tuple]:
    rows = _rows(settings, f"select {id_column}, {columns} from staging.{model} order by {id_column}")
    return {r[0]: tuple(r[1:]) for r in rows}


def test_staging_build_succeeds_with_all_checks_passing(staged) -> None:
    _, result = staged
    assert result.success
    materialized = {event.asset_key.path[-1] for event in result.get_asset_materialization_events()}
    assert set(CONTRACT) <= materialized
    checks = result.get_asset_check_evaluations()
    assert len(checks) > 40
    failed = [(c.asset_key.path[-1], c.check_name) for c in checks if not c.passed]
    assert failed == []


def test_staging_columns_follow_the_contract(staged) -> None:
    settings, _ = staged
    rows = _rows(
        settings,
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'staging' order by table_name, ordinal_position",
    )
    actual: dict[str, list[str]] = {}
    for table_name, column_name in rows:
        actual.setdefault(table_name, []).append(column_name)
    for model, columns in CONTRACT.items():
        expected = columns.split() + ([] if "loaded_at" in columns.split() else ["loaded_at"])
        assert actual.get(model) == expected, model


def test_money_in_currency_units_including_zero_decimal_currencies(staged) -> None:
    settings, _ = staged
    invoices = _by_id(
        settings,
        "stg_lago__invoices",
        "invoice_id",
        "cast(total_amount as varchar), cast(fees_amount as varchar), cast(coupons_amount as varchar)",
    )
    assert invoices == {"i_jp": ("1320000.00", "1200000.00", "0.00"), "i_us": ("47.99", "49.99", "10.00")}
    plans = _by_id(
        settings,
        "stg_lago__plans",
        "plan_id",
        "cast(amount as varchar), currency, billing_interval, cast(interval_months as varchar), tier, "
        "trial_period_days",
    )
    assert plans == {
        "p_ent": ("1200000.00", "JPY", "yearly", "12.0000000000", "enterprise", None),
        "p_free": ("0.00", "EUR", "weekly", "0.2307692308", "free", None),
        "p_half": ("59.94", "EUR", "semiannual", "6.0000000000", "starter", None),
        "p_pro": ("49.99", "USD", "monthly", "1.0000000000", "pro", 14),
        "p_start": ("29.97", "EUR", "quarterly", "3.0000000000", "starter", None),
    }
    fees = _by_id(settings, "stg_lago__fees", "fee_id", "cast(amount as varchar), fee_type, payment_status")
    assert fees == {"f_1": ("49.99", "subscription", "refunded"), "f_2": ("1200.00", "charge", "pending")}
    charges = _by_id(
        settings,
        "stg_lago__charges",
        "charge_id",
        "charge_model, cast(package_amount as varchar), free_units, package_size, properties",
    )
    assert charges["ch_1"][:4] == ("package", "10.50", 1000, 100)
    assert charges["ch_2"] == ("standard", None, None, None, None)


def test_enum_codes_become_names(staged) -> None:
    settings, _ = staged
    subs = _by_id(
        settings, "stg_lago__subscriptions", "subscription_id", "status, billing_time, previous_subscription_id"
    )
    assert subs == {
        "s_1": ("active", "anniversary", None),
        "s_2": ("terminated", "calendar", None),
        "s_3": ("pending", "anniversary", "s_1"),
    }
    invoices = _by_id(settings, "stg_lago__invoices", "invoice_id", "status, payment_status, invoice_type")
    assert invoices == {
        "i_jp": ("finalized", "failed", "advance_charges"),
        "i_us": ("finalized", "succeeded", "subscription"),
    }
    assert _by_id(settings, "stg_lago__coupons", "coupon_id", "coupon_type, frequency") == {
        "cp_fix": ("fixed_amount", "recurring"),
        "cp_pct": ("percentage", "forever"),
    }
    assert _rows(
        settings,
        "select reason, aggregation_type from staging.stg_lago__credit_notes, staging.stg_lago__billable_metrics",
    ) == [("other", "weighted_sum_agg")]


def test_epoch_ms_and_internal_accounts(staged) -> None:
    settings, _ = staged
    users = _by_id(
        settings,
        "stg_keycloak__users",
        "user_id",
        "cast(created_at as varchar), first_name, email_domain, is_internal, is_service_account, "
        "is_deleted, deleted_at is not null",
    )
    assert users == {
        "u_1": ("2026-01-01 00:00:00.123", None, "acme.com", False, False, False, False),
        "u_svc": ("2026-01-01 00:00:00.123", None, "internal.example.com", True, True, True, True),
    }
    assert _rows(settings, "select cast(event_at as varchar), session_id, error from staging.stg_keycloak__events") == [
        ("2026-01-01 00:00:00.123", None, None)
    ]
    customers = _by_id(
        settings,
        "stg_lago__customers",
        "customer_id",
        "email_domain, is_internal, is_deleted, timezone, customer_name, email",
    )
    assert customers == {
        "c_eu": (None, False, False, None, None, None),
        "c_jp": ("internal.example.com", True, True, None, "Tokyo KK", "ops@Internal.Example.com"),
        "c_us": ("acme.com", False, False, None, "Acme", "billing@Acme.com"),
    }
    attributes = _by_id(settings, "stg_keycloak__user_attributes", "user_attribute_id", "attribute_value")
    assert attributes == {"a_1": ("cus_us",), "a_2": (None,)}


def test_litellm_spend_logs(staged) -> None:
    settings, _ = staged
    logs = _by_id(
        settings,
        "stg_litellm__spend_logs",
        "request_id",
        "service, is_cache_hit, status, is_success, api_key, team_id, user_id, customer_external_id, "
        "cast(started_at as varchar), spend",
    )
    assert logs == {
        "r_chat": ("chat", True, "success", True, None, None, "u_1", "cus_us", "2026-01-01 00:00:00", 0.0123),
        "r_embed": ("embeddings", None, None, None, None, None, None, None, "2026-01-01 00:00:00", 0.0),
        "r_other": ("other", False, "failure", False, None, None, None, None, "2026-01-01 00:00:00", 0.5),
    }
