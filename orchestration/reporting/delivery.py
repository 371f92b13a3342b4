"""Deliver rendered reports: the folder always, then e-mail (SMTP) and a Slack-compatible webhook if configured.

Delivery only reads the rendered files, never moves or deletes them, so a failed send loses nothing:
the files stay in `reports/<report>/<period>/` and the next run (or a manual re-send) can deliver them.
Each channel is retried with exponential back-off (tenacity); every failed attempt is logged, and the
result of each channel (status, attempts, error text) is returned for the run log.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import requests
import tenacity

from orchestration.reporting.config import DeliveryConfig, ReportDelivery
from orchestration.reporting.render import ENVIRONMENT, RenderedReport

logger = logging.getLogger(__name__)

DELIVERED, FAILED, SKIPPED = "delivered", "failed", "skipped"


@dataclass(frozen=True)
class DeliveryResult:
    channel: str  # folder | email | webhook
    status: str  # delivered | failed | skipped
    target: str  # folder path, recipient list or webhook host (never a secret)
    attempts: int = 0
    error: str | None = None
    recipients: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status != FAILED


class PermanentDeliveryError(Exception):
    """A failure that retrying cannot fix (bad credentials, rejected recipients, HTTP 4xx)."""


def report_link(rendered: RenderedReport, config: DeliveryConfig) -> str:
    if config.link_base_url:
        return f"{config.link_base_url.rstrip('/')}/{rendered.report}/{rendered.period}/{rendered.html.name}"
    return rendered.html.resolve().as_uri()


def _retrying(config: DeliveryConfig, channel: str, report: str) -> tenacity.Retrying:
    def log_failure(state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        logger.warning("report %s: %s delivery attempt %d failed: %s", report, channel, state.attempt_number, error)

    return tenacity.Retrying(
        stop=tenacity.stop_after_attempt(config.retry.attempts),
        wait=tenacity.wait_exponential(multiplier=config.retry.initial_wait_s, max=config.retry.max_wait_s),
        retry=tenacity.retry_if_not_exception_type(PermanentDeliveryError),
        after=log_failure,
        reraise=True,
    )


def _attempt(
    channel: str, target: str, rendered: RenderedReport, config: DeliveryConfig, send, recipients: tuple[str, ...] = ()
) -> DeliveryResult:
    attempts = 0
    try:
        for attempt in _retrying(config, channel, rendered.report):
            with attempt:
                attempts = attempt.retry_state.attempt_number
                send()
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        logger.error(
            "report %s %s: %s delivery failed after %d attempt(s): %s",
            rendered.report,
            rendered.period,
            channel,
            attempts,
            error,
        )
        return DeliveryResult(channel, FAILED, target, attempts, error, recipients)
    logger.info("report %s %s: delivered by %s to %s", rendered.report, rendered.period, channel, target)
    return DeliveryResult(channel, DELIVERED, target, attempts, None, recipients)


# ---- folder ----------------------------------------------------------------------------------------------------------


def verify_folder(rendered: RenderedReport) -> DeliveryResult:
    """The folder delivery is the render itself; check every file is there with the checksum it was written with."""
    problems = []
    for file in rendered.files:
        if not file.path.exists():
            problems.append(f"{file.path.name} missing")
        elif hashlib.sha256(file.path.read_bytes()).hexdigest() != file.sha256:
            problems.append(f"{file.path.name} checksum differs")
    target = str(rendered.directory)
    if problems:
        return DeliveryResult("folder", FAILED, target, 1, "; ".join(problems))
    return DeliveryResult("folder", DELIVERED, target, 1)


# ---- e-mail ----------------------------------------------------------------------------------------------------------


def build_email(rendered: RenderedReport, config: DeliveryConfig, delivery: ReportDelivery) -> EmailMessage:
    """A summary HTML body (mail clients block the report's inline data: images) plus the files as attachments."""
    assert config.smtp is not None
    link = report_link(rendered, config)
    kinds = {"pdf": rendered.pdf, "xlsx": rendered.xlsx, "html": rendered.html}
    attachments = [kinds[kind] for kind in delivery.attach]
    message = EmailMessage()
    message["Subject"] = f"{rendered.title} · {rendered.subtitle}"
    message["From"] = config.smtp.sender
    message["To"] = ", ".join(delivery.email_to)
    if delivery.email_cc:
        message["Cc"] = ", ".join(delivery.email_cc)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=config.smtp.sender.rsplit("@", 1)[-1].strip("> "))
    text = "\n".join(
        [
            f"{rendered.title} · {rendered.subtitle}",
            "",
            *[f"- {h}" for h in rendered.highlights],
            "",
            f"Report: {link}",
            "Attached: " + ", ".join(p.name for p in attachments),
        ]
    )
    message.set_content(text)
    html = ENVIRONMENT.get_template("email.html.j2").render(
        rendered=rendered, link=link, attachments=[p.name for p in attachments]
    )
    message.add_alternative(html, subtype="html")
    for path in attachments:
        mime, _ = mimetypes.guess_type(path.name)
        maintype, subtype = (mime or "application/octet-stream").split("/", 1)
        message.add_attachment(path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name)
    return message


def _send_email(config: DeliveryConfig, message: EmailMessage) -> None:
    smtp = config.smtp
    assert smtp is not None
    password = config.secret(smtp.password_env)
    if smtp.password_env and password is None:
        raise PermanentDeliveryError(f"environment variable {smtp.password_env} (SMTP password) is not set")
    client_class = smtplib.SMTP_SSL if smtp.use_ssl else smtplib.SMTP
    try:
        with client_class(smtp.host, smtp.port, timeout=smtp.timeout_s) as client:
            if smtp.starttls and not smtp.use_ssl:
                client.starttls(context=ssl.create_default_context())
            if smtp.user:
                client.login(smtp.user, password or "")
            client.send_message(message)
    except (smtplib.SMTPAuthenticationError, smtplib.SMTPRecipientsRefused, smtplib.SMTPNotSupportedError) as exc:
        raise PermanentDeliveryError(str(exc)) from exc


def deliver_email(rendered: RenderedReport, config: DeliveryConfig, delivery: ReportDelivery) -> DeliveryResult:
    target = ", ".join(delivery.recipients)
    if config.smtp is None:
        return DeliveryResult("email", FAILED, target, 0, "no smtp section in the delivery config", delivery.recipients)
    message = build_email(rendered, config, delivery)
    return _attempt("email", target, rendered, config, lambda: _send_email(config, message), delivery.recipients)


# ---- webhook ---------------------------------------------------------------------------------------------------------


def webhook_payload(rendered: RenderedReport, config: DeliveryConfig) -> dict[str, str]:
    """Slack incoming-webhook shape ({"text": mrkdwn}); Mattermost and Rocket.Chat accept it too."""
    lines = [f"*{rendered.title}* · {rendered.subtitle}", *[f"• {h}" for h in rendered.highlights]]
    lines.append(f"<{report_link(rendered, config)}|Open the report>")
    return {"text": "\n".join(lines)}


def _post_webhook(url: str, payload: dict[str, str], timeout_s: float) -> None:
    response = requests.post(url, json=payload, timeout=timeout_s)
    if response.status_code == 429 or response.status_code >= 500:
        raise requests.HTTPError(f"HTTP {response.status_code} from webhook: {response.text[:200]}")
    if response.status_code >= 400:
        raise PermanentDeliveryError(f"HTTP {response.status_code} from webhook: {response.text[:200]}")


def deliver_webhook(rendered: RenderedReport, config: DeliveryConfig) -> DeliveryResult:
    if config.webhook is None:
        return DeliveryResult("webhook", FAILED, "", 0, "no webhook section in the delivery config")
    url = config.secret(config.webhook.url_env)
    if not url:
        return DeliveryResult(
            "webhook",
            FAILED,
            config.webhook.url_env,
            0,
            f"environment variable {config.webhook.url_env} (webhook URL) is not set",
        )
    target = requests.utils.urlparse(url).netloc  # the path of a webhook URL is its secret
    payload = webhook_payload(rendered, config)
    timeout = config.webhook.timeout_s
    return _attempt("webhook", target, rendered, config, lambda: _post_webhook(url, payload, timeout))


# ---- all channels ----------------------------------------------------------------------------------------------------


def deliver(rendered: RenderedReport, config: DeliveryConfig, report_name: str | None = None) -> list[DeliveryResult]:
    """Folder check, then every configured channel; one failing channel does not stop the others."""
    delivery = config.for_report(report_name or rendered.report)
    results = [verify_folder(rendered)]
    if not results[0].ok:  # never send a report whose files are not intact
        skipped = [("email", bool(delivery.recipients)), ("webhook", delivery.webhook)]
        return results + [DeliveryResult(c, SKIPPED, "", 0, "files not intact") for c, on in skipped if on]
    if delivery.recipients:
        results.append(deliver_email(rendered, config, delivery))
    if delivery.webhook:
        results.append(deliver_webhook(rendered, config))
    return results
