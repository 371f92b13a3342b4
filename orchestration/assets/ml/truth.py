"""The simulator's ground truth, read ONLY to report how the models compare with it (demo mode).

No model trains on these frames: the churn model receives the true hazard as its `oracle_column`, which
models_ml.churn never uses as a feature (it only scores the holdout with it to report the oracle AUC).
"""

from __future__ import annotations

from orchestration.lazy import lazy_module
from orchestration.settings import Settings

pd = lazy_module("pandas")  # deferred: only executing the assets needs it (orchestration/lazy.py)


def _read(settings: Settings, name: str) -> pd.DataFrame | None:
    path = settings.truth_dir / f"{name}.parquet"
    return pd.read_parquet(path) if path.exists() else None


def churn_hazard(settings: Settings) -> pd.DataFrame | None:
    """customer_id, snapshot_month (datetime64), oracle_hazard: the true probability of churning in M+1."""
    hazard = _read(settings, "churn_hazard")
    if hazard is None or hazard.empty:
        return None
    return pd.DataFrame(
        {
            "customer_id": hazard["customer_external_id"].astype(str),
            "snapshot_month": pd.to_datetime(hazard["month"]),
            "oracle_hazard": hazard["hazard"].astype(float),
        }
    ).drop_duplicates(["customer_id", "snapshot_month"])


def incidents(settings: Settings) -> pd.DataFrame | None:
    """day (datetime64), scope_kind, scope, metric, description of the injected incidents."""
    frame = _read(settings, "incidents")
    if frame is None:
        return None
    return frame.assign(day=pd.to_datetime(frame["day"]))
