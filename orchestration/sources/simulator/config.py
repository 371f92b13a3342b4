"""Parameters of the simulated company."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # settings are passed in, never read here
    from orchestration.settings import Settings, SimulatorSettings


@dataclass(frozen=True)
class SimulatorConfig:
    seed: int = 42
    n_customers: int = 2000
    start_date: dt.date = dt.date(2024, 1, 1)
    # Arrivals are calibrated so that about n_customers arrive within this many months; they keep
    # arriving at the final rate afterwards (so advancing past the horizon still adds customers).
    months: int = 24
    internal_email_domains: tuple[str, ...] = ("internal.example.com",)
    reporting_currency: str = "USD"
    delinquency_churn_days: int = 30
    trial_days: int = 14
    n_internal_customers: int = 6
    duplicate_rate: float = 0.002
    incident_rate: float = 1 / 40  # probability that a day carries an injected incident
    usage_scale: float = 1.0  # multiplies requests per customer-day

    @classmethod
    def from_settings(cls, simulator: SimulatorSettings, settings: Settings | None = None) -> SimulatorConfig:
        extra: dict[str, object] = {}
        if settings is not None:
            extra = {
                "internal_email_domains": tuple(settings.internal_email_domains) or ("internal.example.com",),
                "reporting_currency": settings.reporting_currency,
                "delinquency_churn_days": settings.delinquency_churn_days,
            }
        start = simulator.resolved_start()
        months = simulator.months
        if simulator.start_date and simulator.as_of:  # a fixed window: n_customers arrive within it
            months = max(1, round((simulator.as_of - start).days / 30.44))
        return cls(
            seed=simulator.seed,
            n_customers=simulator.n_customers,
            start_date=start,
            months=months,
            **extra,
        )

    @property
    def internal_domain(self) -> str:
        return self.internal_email_domains[0]
