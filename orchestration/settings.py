"""The one place that reads the environment.

Everything else receives a `Settings` object (or values taken from it) explicitly, so tests
can build a complete code location for any warehouse without touching `os.environ`.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urlparse

from orchestration.dbt_args import as_of_date_env

PROJECT_ROOT = Path(__file__).resolve().parent.parent
WAREHOUSES = ("duckdb", "postgres")
# The PostgreSQL password: a separate variable, so it reaches the warehouse resource as a Dagster EnvVar (resolved by
# Dagster, shown by name in the UI) instead of a literal inside WAREHOUSE_URL.
WAREHOUSE_PASSWORD_ENV = "WAREHOUSE_PASSWORD"


@dataclass(frozen=True)
class SimulatorSettings:
    """Parameters of the demo company (see orchestration/sources/simulator)."""

    seed: int = 42
    n_customers: int = 2000
    start_date: dt.date | None = None  # None: first day of the month 24 months before as_of
    as_of: dt.date | None = None  # None: yesterday (UTC)
    months: int = 24

    def resolved_as_of(self, today: dt.date | None = None) -> dt.date:
        today = today or dt.datetime.now(dt.UTC).date()
        return self.as_of or today - dt.timedelta(days=1)

    def resolved_start(self, today: dt.date | None = None) -> dt.date:
        if self.start_date:
            return self.start_date
        as_of = self.resolved_as_of(today)
        month_index = as_of.year * 12 + as_of.month - 1 - self.months
        return dt.date(month_index // 12, month_index % 12 + 1, 1)


@dataclass(frozen=True)
class PostgresParams:
    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"
    password: str = ""
    dbname: str = "warehouse"
    password_env: str = ""  # the environment variable `password` was read from ("" when given in code, e.g. tests)

    @classmethod
    def from_url(cls, url: str) -> PostgresParams:
        parsed = urlparse(url)
        if parsed.scheme not in ("postgres", "postgresql", "postgresql+psycopg"):
            raise ValueError(f"WAREHOUSE_URL must be a postgresql:// URL, got scheme {parsed.scheme!r}")
        return cls(
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or 5432,
            user=unquote(parsed.username or "postgres"),
            password=unquote(parsed.password or ""),
            dbname=(parsed.path or "/warehouse").lstrip("/") or "warehouse",
        )

    @property
    def url(self) -> str:
        auth = self.user + (f":{self.password}" if self.password else "")
        return f"postgresql://{auth}@{self.host}:{self.port}/{self.dbname}"

    @property
    def conninfo(self) -> str:
        """libpq key/value string (psycopg, ADBC)."""
        parts = [f"host={self.host}", f"port={self.port}", f"user={self.user}", f"dbname={self.dbname}"]
        if self.password:
            parts.append(f"password={self.password}")
        return " ".join(parts)

    def with_dbname(self, dbname: str) -> PostgresParams:
        return replace(self, dbname=dbname)


@dataclass(frozen=True)
class Settings:
    warehouse: str = "duckdb"
    data_dir: Path = PROJECT_ROOT / ".data"
    duckdb_path: Path = PROJECT_ROOT / ".data" / "warehouse.duckdb"
    postgres: PostgresParams = field(default_factory=PostgresParams)
    reports_dir: Path = PROJECT_ROOT / "reports"
    sources_config: Path = PROJECT_ROOT / "sources.yaml"
    reports_config: Path = PROJECT_ROOT / "reports.yaml"  # report delivery (reports.yaml.example); missing: folder only
    dbt_project_dir: Path = PROJECT_ROOT / "dbt_project"
    simulator: SimulatorSettings = field(default_factory=SimulatorSettings)
    reporting_currency: str = "USD"
    delinquency_churn_days: int = 30
    trial_conversion_days: int = 30
    internal_email_domains: tuple[str, ...] = ("internal.example.com",)
    mask_customer_names: bool = False
    ltv_discount_rate: float = 0.10  # annual, for the projected LTV (METRICS.md)
    # Date the source data is complete up to; None: the simulator's as-of (demo sources).
    as_of_date: dt.date | None = None
    dagster_home_override: Path | None = None

    def __post_init__(self) -> None:
        if self.warehouse not in WAREHOUSES:
            raise ValueError(f"WAREHOUSE must be one of {WAREHOUSES}, got {self.warehouse!r}")

    @property
    def dbt_target(self) -> str:
        """dbt target name; profiles.yml has one target per warehouse."""
        return self.warehouse

    @property
    def source_dir(self) -> Path:
        """Where the demo simulator writes its source-shaped databases."""
        return self.data_dir / "sources"

    @property
    def truth_dir(self) -> Path:
        """Simulator ground truth: read only by tests and benchmarks."""
        return self.data_dir / "truth"

    @property
    def dagster_home(self) -> Path:
        """Run storage of `make demo` / `make ui` unless DAGSTER_HOME points elsewhere."""
        return self.dagster_home_override or self.data_dir / "dagster_home"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    def dbt_env(self) -> dict[str, str]:
        """Environment variables of a dbt invocation: those dbt_project/profiles.yml reads for the active target,
        and the data's as-of date (a per-run setting, orchestration/dbt_args.py run_settings_env)."""
        pg = self.postgres
        return {
            **as_of_date_env(self.data_as_of()),
            "DBT_DUCKDB_PATH": str(self.duckdb_path),
            "DBT_PG_HOST": pg.host,
            "DBT_PG_PORT": str(pg.port),
            "DBT_PG_USER": pg.user,
            "DBT_PG_PASSWORD": pg.password,
            "DBT_PG_DBNAME": pg.dbname,
        }

    def data_as_of(self) -> dt.date:
        return self.as_of_date or self.simulator.resolved_as_of()

    def dbt_vars(self) -> dict[str, object]:
        """Project-wide dbt vars (metric settings of METRICS.md), the same on every run (see dbt_env for the
        as-of date): dbt re-parses the whole project when --vars change."""
        return {
            "reporting_currency": self.reporting_currency,
            "delinquency_churn_days": self.delinquency_churn_days,
            "trial_conversion_days": self.trial_conversion_days,
            "internal_email_domains": list(self.internal_email_domains),
            # a daily usage run re-aggregates the previous days too: rows flushed late by LiteLLM (the extraction
            # re-reads the same 2-day lookback) land in days already processed
            "usage_lookback_days": 2,
        }


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _bool(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build settings from environment variables (documented in README.md)."""
    env = os.environ if env is None else env
    data_dir = Path(env.get("DATA_DIR", PROJECT_ROOT / ".data")).resolve()
    warehouse = env.get("WAREHOUSE", "duckdb").strip().lower()
    url = env.get("WAREHOUSE_URL", "")
    postgres = PostgresParams.from_url(url) if warehouse == "postgres" and url else PostgresParams()
    if postgres.password:
        raise ValueError(f"WAREHOUSE_URL must not contain the password: set {WAREHOUSE_PASSWORD_ENV} instead")
    if warehouse == "postgres" and env.get(WAREHOUSE_PASSWORD_ENV):
        postgres = replace(postgres, password=env[WAREHOUSE_PASSWORD_ENV], password_env=WAREHOUSE_PASSWORD_ENV)
    domains = tuple(
        d.strip().lower() for d in env.get("INTERNAL_EMAIL_DOMAINS", "internal.example.com").split(",") if d.strip()
    )
    return Settings(
        warehouse=warehouse,
        data_dir=data_dir,
        duckdb_path=Path(env.get("DUCKDB_PATH", data_dir / "warehouse.duckdb")).resolve(),
        postgres=postgres,
        reports_dir=Path(env.get("REPORTS_DIR", PROJECT_ROOT / "reports")).resolve(),
        sources_config=Path(env.get("SOURCES_CONFIG", PROJECT_ROOT / "sources.yaml")).resolve(),
        reports_config=Path(env.get("REPORTS_CONFIG", PROJECT_ROOT / "reports.yaml")).resolve(),
        simulator=SimulatorSettings(
            seed=int(env.get("SIM_SEED", 42)),
            n_customers=int(env.get("SIM_CUSTOMERS", 2000)),
            start_date=_date(env.get("SIM_START")),
            as_of=_date(env.get("SIM_AS_OF")),
            months=int(env.get("SIM_MONTHS", 24)),
        ),
        reporting_currency=env.get("REPORTING_CURRENCY", "USD").upper(),
        delinquency_churn_days=int(env.get("DELINQUENCY_CHURN_DAYS", 30)),
        trial_conversion_days=int(env.get("TRIAL_CONVERSION_DAYS", 30)),
        internal_email_domains=domains,
        mask_customer_names=_bool(env.get("MASK_CUSTOMER_NAMES")),
        ltv_discount_rate=float(env.get("LTV_DISCOUNT_RATE", 0.10)),
        as_of_date=_date(env.get("AS_OF_DATE")),
        dagster_home_override=Path(env["DAGSTER_HOME"]).resolve() if env.get("DAGSTER_HOME") else None,
    )


def read_secret(name: str, env: Mapping[str, str] | None = None) -> str:
    """An API token or password from the environment variable `name` (named in sources.yaml, never stored there)."""
    env = os.environ if env is None else env
    value = env.get(name, "")
    if not value:
        raise KeyError(f"environment variable {name} (named in the sources config) is not set")
    return value


def secrets_environ(env: Mapping[str, str] | None = None) -> Mapping[str, str]:
    """The environment that config files' `*_env` keys (reports.yaml: SMTP password, webhook URL) are resolved in."""
    return dict(os.environ if env is None else env)


@cache
def get_settings() -> Settings:
    return load_settings()
