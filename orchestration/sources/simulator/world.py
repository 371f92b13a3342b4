"""The simulated company's state: latent customer attributes, billing slots and the source records."""

from __future__ import annotations

import numpy as np

from .catalog import build_catalog
from .clock import NULL_TS, day_start_us
from .config import SimulatorConfig
from .versioned import VersionedTable

CHANNELS = ("organic", "paid_search", "referral", "partner", "social")
CHANNEL_SHARE = np.array([0.35, 0.25, 0.15, 0.10, 0.15])
CHANNEL_ENGAGEMENT = np.array([0.15, -0.2, 0.35, 0.25, -0.35])  # acquisition quality
CHANNEL_HAZARD = np.array([0.0, 0.25, -0.3, -0.2, 0.35])  # logit shift of the churn hazard
COUPON_PROPENSITY = np.array([0.10, 0.30, 0.15, 0.45, 0.25])

# customer lifecycle states
NONE, TRIAL, PAYING, CHURNED, CHURNED_UNPAID, FREE, LAPSED = range(7)
ACTIVE_STATES = (TRIAL, PAYING, FREE)


class Arrays:
    """Growable struct-of-arrays without history (latent state)."""

    def __init__(self, columns: dict[str, tuple[type, object]]) -> None:
        self.n = 0
        self._fill = {k: fill for k, (_, fill) in columns.items()}
        self._cols = {k: np.full(64, fill, dtype) for k, (dtype, fill) in columns.items()}

    def __getitem__(self, name: str) -> np.ndarray:
        return self._cols[name][: self.n]

    def append(self, count: int, **values: object) -> np.ndarray:
        rows = np.arange(self.n, self.n + count)
        cap = len(next(iter(self._cols.values())))
        if self.n + count > cap:
            new_cap = max(self.n + count, 2 * cap)
            for k, arr in self._cols.items():
                grown = np.full(new_cap, self._fill[k], arr.dtype)
                grown[:cap] = arr
                self._cols[k] = grown
        self.n += count
        for k, v in values.items():
            self._cols[k][rows] = v
        return rows


def _ts() -> tuple[type, object]:
    return (np.int64, NULL_TS)


class World:
    def __init__(self, config: SimulatorConfig) -> None:
        self.cfg = config
        self.catalog = build_catalog(config.trial_days)
        self.day = -1  # last simulated day index
        self.n_chains = 0
        i64, f64, b = np.int64, np.float64, np.bool_
        self.cust = Arrays(
            {
                "arrival_day": (i64, 0),
                "created_us": (i64, 0),
                "channel": (i64, 0),
                "is_internal": (b, False),
                "currency": (i64, 0),
                "country": (i64, 0),
                "net_term": (i64, 0),
                "seats": (i64, 1),
                "intensity": (f64, 1.0),
                "tokens_per_request": (f64, 2400.0),
                "eng": (f64, 0.0),
                "eng_mean": (f64, 0.0),  # where engagement currently reverts to (drops during a disengagement)
                "eng_base": (f64, 0.0),  # the customer's usual engagement level
                "err_prone": (f64, 0.01),
                "pay_risk": (f64, 0.03),
                "noise": (f64, 0.0),
                "tier_pref": (i64, 1),
                "interval_pref": (i64, 1),
                "state": (i64, NONE),
                "paid_since_day": (i64, -1),
                "err_ewma": (f64, 0.01),
                "fail_ewma": (f64, 0.0),
                "tokens_ewma": (f64, 0.0),  # daily tokens, smoothed
                # realized requests (runaway jobs aside) and logins in trailing windows ending today (running sums)
                "requests_30d": (i64, 0),
                "requests_120d": (i64, 0),
                "logins_30d": (i64, 0),
                "coupon_row": (i64, -1),
                "churn_day": (i64, -1),
                "deleted": (b, False),
                "row": (i64, -1),  # row in the Lago customers table
            }
        )
        # two billing slots per customer: 0 = main chain, 1 = second concurrent chain
        self.slot = Arrays(
            {
                "sub": (i64, -1),
                "pending": (i64, -1),
                "fee_day": (i64, -1),
                "fee_dom": (i64, 1),
                "period_start_us": (i64, 0),
                "charge_day": (i64, -1),
                "charge_dom": (i64, 1),
                "charge_from_us": (i64, 0),
                "tokens": (f64, 0.0),
            }
        )
        self.customers = VersionedTable({"cust": i64, "created_at": i64, "deleted_at": i64, "timezone": i64})
        self.subscriptions = VersionedTable(
            {
                "chain": i64,
                "cust": i64,
                "plan": i64,
                "status": i64,
                "subscription_at": i64,
                "started_at": i64,
                "trial_ended_at": i64,
                "ending_at": i64,
                "terminated_at": i64,
                "canceled_at": i64,
                "prev": i64,
                "created_at": i64,
            }
        )
        self.applied_coupons = VersionedTable(
            {
                "coupon": i64,
                "cust": i64,
                "status": i64,
                "remaining": i64,
                "terminated_at": i64,
                "created_at": i64,
            }
        )
        self.invoices = VersionedTable(
            {
                "cust": i64,
                "issuing_day": i64,
                "due_day": i64,
                "payment_status": i64,
                "fees_cents": i64,
                "coupons_cents": i64,
                "taxes_cents": i64,
                "created_at": i64,
                "fee_sub_row": i64,
                "fee_charge_row": i64,
                # internal dunning state (not a source column)
                "attempt_day": i64,
                "attempts": i64,
                "outcome": i64,
                "outcome_day": i64,
                "refund_day": i64,
            }
        )
        self.invoice_subscriptions = VersionedTable(
            {
                "invoice": i64,
                "sub": i64,
                "from_us": i64,
                "to_us": i64,
                "charges_from_us": i64,
                "charges_to_us": i64,
                "created_at": i64,
            }
        )
        self.fees = VersionedTable(
            {
                "invoice": i64,
                "sub": i64,
                "fee_type": i64,
                "amount_cents": i64,
                "taxes_cents": i64,
                "units": f64,
                "payment_status": i64,
                "plan": i64,
                "created_at": i64,
            }
        )
        self.payments = VersionedTable({"invoice": i64, "amount_cents": i64, "succeeded": b, "created_at": i64})
        self.credit_notes = VersionedTable(
            {"invoice": i64, "reason": i64, "refund_cents": i64, "credit_cents": i64, "created_at": i64}
        )
        self.users = VersionedTable(
            {"cust": i64, "role": i64, "created_at": i64, "enabled": b, "deleted": b, "email_verified": b}
        )
        # per-day activity for event-level expansion: day -> arrays
        self.usage_counts: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.login_counts: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self.incidents: dict[int, dict[str, object]] = {}
        self.expansion_cache: dict[tuple[str, int], dict] = {}  # (kind, day) -> expanded rows (bounded)
        self.hazard_log: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # month-end day -> (cust, hazard)

    # --- helpers shared by the lifecycle modules ----------------------------------------------
    def new_chains(self, count: int) -> np.ndarray:
        chains = np.arange(self.n_chains, self.n_chains + count)
        self.n_chains += count
        return chains

    def start_subscriptions(
        self,
        cust: np.ndarray,
        plan: np.ndarray,
        at_us: np.ndarray,
        *,
        chain: np.ndarray,
        prev: np.ndarray,
        trial: bool,
    ) -> np.ndarray:
        """Active rows starting at `at_us`; without trial, trial_ended_at = started_at (no trial)."""
        n = len(cust)
        return self.subscriptions.insert(
            at_us,
            chain=chain,
            cust=cust,
            plan=plan,
            status=np.full(n, 1),
            subscription_at=at_us,
            started_at=at_us,
            trial_ended_at=np.full(n, NULL_TS) if trial else at_us,
            ending_at=np.full(n, NULL_TS),
            terminated_at=np.full(n, NULL_TS),
            canceled_at=np.full(n, NULL_TS),
            prev=prev,
            created_at=at_us,
        )

    def terminate_subscriptions(self, rows: np.ndarray, at_us: np.ndarray) -> None:
        self.subscriptions.update(rows, at_us, status=2, terminated_at=at_us)


def _day_start(self: World, day: int | np.ndarray) -> int | np.ndarray:
    return day_start_us(self.cfg.start_date, day)


def _expanded(self: World, kind: str, day: int, expand) -> dict:
    """Expanded event rows of one day, cached while the cache stays small (expansion is deterministic)."""
    key = (kind, day)
    if key in self.expansion_cache:
        return self.expansion_cache[key]
    rows = expand(self, day)
    size = len(next(iter(rows.values()))) if rows else 0
    if self.cached_rows + size <= EXPANSION_CACHE_ROWS:
        self.expansion_cache[key] = rows
        self.cached_rows += size
    return rows


EXPANSION_CACHE_ROWS = 1_500_000
World.cached_rows = 0  # type: ignore[attr-defined]
World.expanded = _expanded  # type: ignore[attr-defined]
World.day_start = _day_start  # type: ignore[attr-defined]
