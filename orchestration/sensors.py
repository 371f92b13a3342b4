"""Run-failure notification: every failed run is logged and, when configured, posted to the reports' webhook.

The webhook is the channel the reports use (reports.yaml `webhook.url_env`); its URL is a secret, so it is read
from the environment through Dagster's EnvVar at send time and never logged (only its host is).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import dagster as dg
import requests
import tenacity

from orchestration.reporting.config import load_delivery_config
from orchestration.settings import Settings

RUN_FAILURE_SENSOR = "run_failure_notifier"
WEBHOOK_ATTEMPTS = 3

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunFailure:
    job_name: str
    run_id: str
    message: str
    failed_steps: tuple[str, ...] = ()
    failed_checks: tuple[str, ...] = ()

    def text(self) -> str:
        """Slack-compatible mrkdwn (the reports' webhook payload shape)."""
        lines = [f"*Dagster run failed*: job `{self.job_name}`, run `{self.run_id[:8]}`", self.message]
        if self.failed_steps:
            lines.append("Failed steps: " + ", ".join(self.failed_steps))
        if self.failed_checks:
            lines.append("Failed blocking checks: " + ", ".join(self.failed_checks))
        return "\n".join(line for line in lines if line)


def describe_failure(context: dg.RunFailureSensorContext) -> RunFailure:
    run = context.dagster_run
    failed_steps = tuple(sorted({e.step_key for e in context.get_step_failure_events() if e.step_key}))
    checks = context.instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    failed_checks = []
    for record in checks:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        if not evaluation.passed and evaluation.blocking:
            failed_checks.append(f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}")
    message = (context.failure_event.message or "").splitlines()[0] if context.failure_event else ""
    return RunFailure(run.job_name, run.run_id, message, failed_steps, tuple(sorted(failed_checks)))


def post_to_webhook(url: str, text: str, timeout_s: float = 10.0) -> None:
    for attempt in tenacity.Retrying(
        stop=tenacity.stop_after_attempt(WEBHOOK_ATTEMPTS), wait=tenacity.wait_exponential(max=10), reraise=True
    ):
        with attempt:
            response = requests.post(url, json={"text": text}, timeout=timeout_s)
            response.raise_for_status()


def build_run_failure_sensor(settings: Settings, *, delivery_config_path: Path | None = None) -> dg.SensorDefinition:
    """Log every failed run of the code location; post it to the reports' webhook when reports.yaml configures one.

    `delivery_config_path`: the reports' delivery config (default: settings.reports_config, REPORTS_CONFIG).
    """
    config_path = delivery_config_path or settings.reports_config

    @dg.run_failure_sensor(
        name=RUN_FAILURE_SENSOR,
        description="Logs failed runs and posts them to the reports' webhook (reports.yaml webhook.url_env).",
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=30,
    )
    def run_failure_notifier(context: dg.RunFailureSensorContext) -> None:
        failure = describe_failure(context)
        context.log.error(failure.text())
        delivery = load_delivery_config(config_path, {})  # the file names variables; values come from EnvVar
        if delivery.webhook is None:
            return
        url = dg.EnvVar(delivery.webhook.url_env).get_value()
        if not url:
            context.log.warning(f"webhook not notified: environment variable {delivery.webhook.url_env} is not set")
            return
        host = urlparse(url).netloc  # the path of a webhook URL is its secret
        try:
            post_to_webhook(url, failure.text(), delivery.webhook.timeout_s)
        except requests.RequestException as exc:
            context.log.error(f"webhook {host}: run failure not delivered ({type(exc).__name__})")
            return
        context.log.info(f"run failure posted to webhook {host}")

    return run_failure_notifier
