"""Report delivery configuration (reports.yaml): recipients per report, SMTP and webhook settings, retries.

Secrets never live in the file: it names environment variables (`password_env`, `url_env`), and the
caller passes the environment mapping in (settings.py is the one module that reads os.environ).
Unknown keys are errors, so a typo cannot silently drop recipients.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from orchestration.reporting.specs import REPORT_IDS

ATTACHMENT_KINDS = ("pdf", "xlsx", "html")


class DeliveryConfigError(ValueError):
    """The delivery YAML is invalid; the message names the file and the key path."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    sender: str
    port: int = 587
    starttls: bool = True
    use_ssl: bool = False
    user: str | None = None
    password_env: str | None = None
    timeout_s: float = 30.0


@dataclass(frozen=True)
class WebhookConfig:
    url_env: str
    timeout_s: float = 10.0


@dataclass(frozen=True)
class RetryConfig:
    attempts: int = 4
    initial_wait_s: float = 2.0
    max_wait_s: float = 60.0


@dataclass(frozen=True)
class ReportDelivery:
    email_to: tuple[str, ...] = ()
    email_cc: tuple[str, ...] = ()
    webhook: bool = False
    attach: tuple[str, ...] = ("pdf", "xlsx")

    @property
    def recipients(self) -> tuple[str, ...]:
        return self.email_to + self.email_cc


@dataclass(frozen=True)
class DeliveryConfig:
    smtp: SmtpConfig | None = None
    webhook: WebhookConfig | None = None
    retry: RetryConfig = field(default_factory=RetryConfig)
    link_base_url: str | None = None  # where the reports folder is served; webhook/e-mail links point there
    reports: dict[str, ReportDelivery] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)  # only the variables the file names

    def for_report(self, report: str) -> ReportDelivery:
        return self.reports.get(report, ReportDelivery())

    def secret(self, variable: str | None) -> str | None:
        return self.secrets.get(variable) if variable else None


def _section(raw: object, where: str, allowed: set[str], required: frozenset[str] | set[str] = frozenset()) -> dict:
    if not isinstance(raw, dict):
        raise DeliveryConfigError(f"{where}: expected a mapping, got {type(raw).__name__}")
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise DeliveryConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})"
        )
    missing = sorted(required - set(raw))
    if missing:
        raise DeliveryConfigError(f"{where}: missing required key(s) {', '.join(missing)}")
    return raw


def _addresses(raw: object, where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    values = [raw] if isinstance(raw, str) else raw
    if not isinstance(values, list) or not all(isinstance(v, str) and "@" in v for v in values):
        raise DeliveryConfigError(f"{where}: expected an e-mail address or a list of them, got {raw!r}")
    return tuple(v.strip() for v in values)


def parse_delivery_config(raw: object, environ: Mapping[str, str], source: str = "reports.yaml") -> DeliveryConfig:
    top = _section(raw or {}, source, {"smtp", "webhook", "retry", "link_base_url", "reports"})
    smtp = webhook = None
    if top.get("smtp") is not None:
        values = _section(
            top["smtp"],
            f"{source}: smtp",
            {"host", "port", "sender", "starttls", "use_ssl", "user", "password_env", "timeout_s"},
            {"host", "sender"},
        )
        smtp = SmtpConfig(**values)
    if top.get("webhook") is not None:
        webhook = WebhookConfig(**_section(top["webhook"], f"{source}: webhook", {"url_env", "timeout_s"}, {"url_env"}))
    retry = RetryConfig(
        **_section(top.get("retry") or {}, f"{source}: retry", {"attempts", "initial_wait_s", "max_wait_s"})
    )
    if retry.attempts < 1:
        raise DeliveryConfigError(f"{source}: retry.attempts must be at least 1")
    reports = {}
    for name, entry in _section(top.get("reports") or {}, f"{source}: reports", set(REPORT_IDS)).items():
        where = f"{source}: reports.{name}"
        values = _section(entry or {}, where, {"email_to", "email_cc", "webhook", "attach"})
        attach = tuple(values.get("attach", ("pdf", "xlsx")))
        bad = [a for a in attach if a not in ATTACHMENT_KINDS]
        if bad:
            raise DeliveryConfigError(f"{where}.attach: unknown kind(s) {', '.join(bad)} (allowed: pdf, xlsx, html)")
        delivery = ReportDelivery(
            email_to=_addresses(values.get("email_to"), f"{where}.email_to"),
            email_cc=_addresses(values.get("email_cc"), f"{where}.email_cc"),
            webhook=bool(values.get("webhook", False)),
            attach=attach,
        )
        if delivery.recipients and smtp is None:
            raise DeliveryConfigError(f"{where}: has e-mail recipients but the file has no smtp section")
        if delivery.webhook and webhook is None:
            raise DeliveryConfigError(f"{where}: webhook is on but the file has no webhook section")
        reports[name] = delivery
    named = [v for v in (smtp.password_env if smtp else None, webhook.url_env if webhook else None) if v]
    return DeliveryConfig(
        smtp=smtp,
        webhook=webhook,
        retry=retry,
        link_base_url=(top.get("link_base_url") or None),
        reports=reports,
        secrets={name: environ[name] for name in named if name in environ},
    )


def load_delivery_config(path: Path, environ: Mapping[str, str]) -> DeliveryConfig:
    """Read reports.yaml; a missing file means folder delivery only."""
    path = Path(path)
    if not path.exists():
        return DeliveryConfig()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DeliveryConfigError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return parse_delivery_config(raw, environ, source=str(path))
    except TypeError as exc:  # wrong value types reaching a dataclass
        raise DeliveryConfigError(f"{path}: {exc}") from exc
