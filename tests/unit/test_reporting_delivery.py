"""Delivery to a real local SMTP server (aiosmtpd) and a real local HTTP server, including failure and retry."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from orchestration.reporting import (
    WEEKLY_CHURN_RISK,
    DeliveryConfigError,
    deliver,
    load_delivery_config,
    render_report,
    report_run_record,
)
from orchestration.reporting.config import parse_delivery_config
from orchestration.reporting.sample_data import sample_churn_risk

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    return render_report(
        WEEKLY_CHURN_RISK,
        sample_churn_risk("2026-W43", n_customers=120),
        tmp_path_factory.mktemp("r"),
        mask_names=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    def __init__(self) -> None:
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted"


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.port, inbox
    controller.stop()


class WebhookServer:
    """Answers 500 to the first `failures` POSTs, then 200; records every body."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.bodies: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.bodies.append(body)
                status = 500 if len(server.bodies) <= server.failures else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"boom")

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hooks/T000/B000/secret"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def config_for(smtp_port: int | None = None, webhook: bool = False, attempts: int = 3, env=None, **report):
    raw = {
        "link_base_url": "https://reports.example.com/reports",
        "retry": {"attempts": attempts, "initial_wait_s": 0, "max_wait_s": 0},
        "reports": {WEEKLY_CHURN_RISK: {"webhook": webhook, **report}},
    }
    if smtp_port is not None:
        raw["smtp"] = {
            "host": "127.0.0.1",
            "port": smtp_port,
            "starttls": False,
            "sender": "reports@example.com",
            "timeout_s": 5,
        }
    if webhook:
        raw["webhook"] = {"url_env": "TEST_REPORTS_WEBHOOK_URL", "timeout_s": 5}
    return parse_delivery_config(raw, env or {})


def test_email_arrives_with_html_body_and_attachments(rendered, smtp_server):
    port, inbox = smtp_server
    config = config_for(port, email_to=["cs@example.com"], email_cc="lead@example.com")
    results = deliver(rendered, config, WEEKLY_CHURN_RISK)
    assert [(r.channel, r.status) for r in results] == [("folder", "delivered"), ("email", "delivered")]
    assert results[1].attempts == 1
    (envelope,) = inbox.envelopes
    assert sorted(envelope.rcpt_tos) == ["cs@example.com", "lead@example.com"]
    message = message_from_bytes(envelope.content, policy=policy.default)
    assert message["Subject"].startswith("Weekly churn-risk list")
    html = message.get_body(("html",)).get_content()
    assert "high-risk customers" in html
    assert "https://reports.example.com/reports/weekly_churn_risk/2026-W43/weekly_churn_risk_2026-W43.html" in html
    attachments = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    assert attachments == {rendered.pdf.name: rendered.pdf.read_bytes(), rendered.xlsx.name: rendered.xlsx.read_bytes()}


def test_webhook_failure_then_retry(rendered):
    with WebhookServer(failures=1) as server:
        config = config_for(webhook=True, env={"TEST_REPORTS_WEBHOOK_URL": server.url})
        results = deliver(rendered, config, WEEKLY_CHURN_RISK)
    webhook = results[-1]
    assert (webhook.channel, webhook.status, webhook.attempts) == ("webhook", "delivered", 2)
    assert webhook.target == server.url.split("/")[2]  # host only: the URL path is the secret
    assert len(server.bodies) == 2 and server.bodies[0] == server.bodies[1]
    text = server.bodies[-1]["text"]
    assert text.startswith("*Weekly churn-risk list*")
    assert "|Open the report>" in text and "weekly_churn_risk_2026-W43.html" in text


def test_failed_delivery_is_recorded_and_files_are_kept(rendered, caplog):
    unused_port = free_port()
    with WebhookServer(failures=99) as server:
        env = {"TEST_REPORTS_WEBHOOK_URL": server.url}
        config = config_for(unused_port, webhook=True, attempts=2, env=env, email_to=["cs@example.com"])
        results = deliver(rendered, config, WEEKLY_CHURN_RISK)
    by_channel = {r.channel: r for r in results}
    assert by_channel["folder"].status == "delivered"
    assert (by_channel["email"].status, by_channel["email"].attempts) == ("failed", 2)
    assert "ConnectionRefusedError" in by_channel["email"].error
    assert (by_channel["webhook"].status, by_channel["webhook"].attempts) == ("failed", 2)
    assert "HTTP 500" in by_channel["webhook"].error and len(server.bodies) == 2
    assert "webhook delivery attempt 1 failed" in caplog.text
    assert all(f.path.exists() for f in rendered.files)
    now = dt.datetime(2026, 10, 26, 6, 0, tzinfo=dt.UTC)
    record = report_run_record(rendered, results, run_id="run-1", started_at=now, finished_at=now)
    assert record["status"] == "partial"
    assert "email: ConnectionRefusedError" in record["error"] and "webhook: HTTPError" in record["error"]
    files = json.loads(record["files"])
    assert {f["name"] for f in files} == {f.path.name for f in rendered.files}
    assert all(len(f["sha256"]) == 64 for f in files)
    assert json.loads(record["recipients"]) == ["cs@example.com"]


def test_missing_secret_fails_without_sending(rendered):
    results = deliver(rendered, config_for(webhook=True, env={}), WEEKLY_CHURN_RISK)
    assert results[-1].status == "failed" and results[-1].attempts == 0
    assert "TEST_REPORTS_WEBHOOK_URL" in results[-1].error


def test_example_config_loads_and_bad_config_is_named(tmp_path):
    config = load_delivery_config(PROJECT_ROOT / "reports.yaml.example", {"REPORTS_SMTP_PASSWORD": "pw"})
    assert config.smtp.password_env == "REPORTS_SMTP_PASSWORD" and config.secret("REPORTS_SMTP_PASSWORD") == "pw"
    assert config.for_report("monthly_business_review").email_to
    assert load_delivery_config(tmp_path / "absent.yaml", {}).reports == {}
    bad = tmp_path / "reports.yaml"
    bad.write_text("reports:\n  weekly_churn_risk:\n    emails: [a@example.com]\n")
    with pytest.raises(DeliveryConfigError, match=r"reports.weekly_churn_risk: unknown key\(s\) emails"):
        load_delivery_config(bad, {})
    bad.write_text("reports:\n  weekly_churn_risk:\n    email_to: [a@example.com]\n")
    with pytest.raises(DeliveryConfigError, match="no smtp section"):
        load_delivery_config(bad, {})
    bad.write_text("reports:\n  quarterly_review: {}\n")
    with pytest.raises(DeliveryConfigError, match="quarterly_review"):
        load_delivery_config(bad, {})
