"""Security baseline: planted secrets never reach run logs, metadata, dbt artefacts or report files; the run-failure
sensor posts to the reports' webhook without logging its URL; on PostgreSQL the bi_reader role reads marts and ml
only, and sees no e-mail address."""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pandas as pd
import psycopg
import pytest
from psycopg import sql

from orchestration.definitions import build_definitions
from orchestration.resources.warehouse import WarehouseResource
from orchestration.security import BI_READER_PASSWORD_ENV, create_bi_reader_from_env
from orchestration.sensors import RUN_FAILURE_SENSOR
from orchestration.settings import Settings
from tests.integration.test_quality_checks import with_demo_sources

WEBHOOK_ENV = "SMW_TEST_ALERTS_WEBHOOK_URL"
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class WebhookRecorder:
    """A local Slack-style webhook: records (path, body) of every POST and answers 200."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                recorder.posts.append((self.path, body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def webhook() -> Iterator[WebhookRecorder]:
    recorder = WebhookRecorder()
    yield recorder
    recorder.close()


def _files_containing(roots: list[Path], secret: str) -> list[str]:
    needle = secret.encode()
    return [
        str(p) for root in roots if root.exists() for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()
    ]


def test_planted_secrets_never_reach_logs_metadata_or_artefacts(
    make_settings, dbt_manifest_path: Path, monkeypatch: pytest.MonkeyPatch, webhook: WebhookRecorder, tmp_path: Path
) -> None:
    hook_secret = f"hook-{uuid.uuid4().hex}"
    monkeypatch.setenv(WEBHOOK_ENV, f"{webhook.base_url}/services/T000/B000/{hook_secret}")
    settings = make_settings("security_secrets")
    secrets = [hook_secret]
    if settings.warehouse == "postgres":  # trust auth on the test server: any password connects, so plant one
        pg_secret = f"pg-{uuid.uuid4().hex}"
        settings = replace(settings, postgres=replace(settings.postgres, password=pg_secret))
        secrets.append(pg_secret)
    settings = with_demo_sources(settings, dbt_manifest_path)
    settings.reports_config.write_text(f"webhook:\n  url_env: {WEBHOOK_ENV}\n")
    defs = build_definitions(settings)
    job = defs.resolve_implicit_global_asset_job_def()
    home = tmp_path / "dagster_home"
    home.mkdir()

    graph = defs.resolve_asset_graph()
    raw_and_staging = [k for k in graph.get_all_asset_keys() if k.path[0] in ("raw", "staging")]

    with dg.instance_for_test(temp_dir=str(home)) as instance:
        # A failing run (its raw table is not extracted yet) for the run-failure sensor to report.
        failed = job.execute_in_process(
            instance=instance, asset_selection=[dg.AssetKey(["staging", "stg_lago__invoices"])], raise_on_error=False
        )
        assert not failed.success
        ok = job.execute_in_process(instance=instance, asset_selection=raw_and_staging, raise_on_error=False)
        assert ok.success  # extraction, GX checks and dbt ran with the planted secrets in play
        run = instance.get_run_by_id(failed.run_id)
        failure_event = next(e for e in failed.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
        context = dg.build_run_status_sensor_context(
            sensor_name=RUN_FAILURE_SENSOR, dagster_event=failure_event, dagster_instance=instance, dagster_run=run
        ).for_run_failure()
        defs.get_sensor_def(RUN_FAILURE_SENSOR)(context)

    [(path, body)] = webhook.posts
    assert path.endswith(hook_secret)  # the sensor really used the secret URL...
    assert "Dagster run failed" in body["text"] and failed.run_id[:8] in body["text"]
    assert "dbt_models" in body["text"]
    # ...but no secret is in the Dagster storage (event log, run records, compute logs), the dbt artefacts
    # (manifest.json, run_results.json, dbt.log), the data directory or the report files.
    artefacts = list(settings.dbt_project_dir.joinpath("target").rglob("run_results.json"))
    assert artefacts and list(settings.dbt_project_dir.joinpath("target").rglob("manifest.json"))
    roots = [home, settings.dbt_project_dir, settings.data_dir, settings.reports_dir]
    for secret in secrets:
        assert _files_containing(roots, secret) == [], secret


# --- bi_reader ---------------------------------------------------------------------------------------------------


def _admin(settings: Settings) -> psycopg.Connection:
    return psycopg.connect(settings.postgres.conninfo, autocommit=True)


def test_bi_reader_reads_marts_and_ml_only(built_warehouse: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    if built_warehouse.warehouse != "postgres":
        pytest.skip("roles exist on PostgreSQL only; DuckDB is an embedded single-user file")
    role, password = f"bi_reader_{uuid.uuid4().hex[:8]}", f"pw-{uuid.uuid4().hex}"
    monkeypatch.setenv(BI_READER_PASSWORD_ENV, password)
    create_bi_reader_from_env(built_warehouse, role)
    create_bi_reader_from_env(built_warehouse, role)  # idempotent: a second run resets the password and grants
    # A table created after the grants (as the ML assets will) is readable through the default privileges.
    probe = f"zz_bi_reader_probe_{uuid.uuid4().hex[:6]}"
    WarehouseResource.from_settings(built_warehouse).write_table(
        "ml", probe, pd.DataFrame({"churn_probability": [0.2]})
    )
    try:
        with _admin(built_warehouse) as admin:
            all_tables = admin.execute(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_schema IN ('raw', 'staging', 'intermediate', 'marts', 'ml')"
            ).fetchall()
        private = [t for t in all_tables if t[0] in ("raw", "staging", "intermediate")]
        readable = {t for t in all_tables if t[0] in ("marts", "ml")}
        assert private and ("marts", "fct_mrr") in readable and ("ml", probe) in readable

        reader = replace(built_warehouse.postgres, user=role, password=password)
        with psycopg.connect(reader.conninfo, autocommit=True) as conn:
            columns = conn.execute(
                "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
            ).fetchall()
            assert {c[0] for c in columns} == {"marts", "ml"}
            assert {(c[0], c[1]) for c in columns} == readable
            assert not [c for c in columns if c[2] in ("email", "email_address")]
            for schema, table in sorted(readable):
                conn.execute(
                    sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
                )
            for schema, table, column, data_type in columns:  # no value anywhere looks like an e-mail address
                if data_type in ("text", "character varying"):
                    found = conn.execute(
                        sql.SQL("SELECT count(*) FROM {}.{} WHERE {} ~ %s").format(
                            sql.Identifier(schema), sql.Identifier(table), sql.Identifier(column)
                        ),
                        [EMAIL.pattern],
                    ).fetchone()[0]
                    assert found == 0, (schema, table, column)
            for schema, table in private:
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(
                        sql.SQL("SELECT 1 FROM {}.{} LIMIT 1").format(sql.Identifier(schema), sql.Identifier(table))
                    )
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("DELETE FROM marts.fct_mrr")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("CREATE TABLE marts.bi_reader_was_here (x int)")
        # The private layers do hold e-mail addresses: hiding them is the role's job, not an accident of the data.
        with _admin(built_warehouse) as admin:
            assert admin.execute("SELECT count(*) FROM raw.lago_customers WHERE email LIKE '%@%'").fetchone()[0] > 0
    finally:
        with _admin(built_warehouse) as admin:
            admin.execute(sql.SQL("DROP TABLE IF EXISTS ml.{}").format(sql.Identifier(probe)))
            admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
