"""Small frame helpers shared by the report builders."""

from __future__ import annotations

import pandas as pd

from orchestration.reporting.specs import ReportDataError

MASKED_NAME = "(name hidden)"
RISK_BAND_ORDER = {"high": 0, "medium": 1, "low": 2}
SEVERITY_ORDER = {"critical": 0, "high": 1, "warning": 2, "medium": 2, "low": 3, "info": 4}


def as_timestamps(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """A copy with date-like columns as naive midnight timestamps (DuckDB, Postgres and Python dates alike)."""
    out = frame.copy()
    for column in columns:
        values = pd.to_datetime(out[column])
        if getattr(values.dt, "tz", None) is not None:
            values = values.dt.tz_convert("UTC").dt.tz_localize(None)
        out[column] = values.dt.normalize()
    return out


def row_for(frame: pd.DataFrame, column: str, key: pd.Timestamp, what: str) -> pd.Series:
    rows = frame.loc[frame[column] == key]
    if rows.empty:
        raise ReportDataError(f"{what} has no row for {column}={key.date().isoformat()}")
    if len(rows) > 1:
        raise ReportDataError(f"{what} has {len(rows)} rows for {column}={key.date().isoformat()}, expected one")
    return rows.iloc[0]


def optional_row(frame: pd.DataFrame, column: str, key: pd.Timestamp) -> pd.Series | None:
    rows = frame.loc[frame[column] == key]
    return rows.iloc[0] if len(rows) == 1 else None


def mask_customer_names(frame: pd.DataFrame, mask: bool) -> pd.DataFrame:
    out = frame.copy()
    if mask:
        out["customer_name"] = MASKED_NAME
    return out


def sort_by_rank(
    frame: pd.DataFrame, column: str, order: dict[str, int], then: list[str], ascending: list[bool]
) -> pd.DataFrame:
    """Sort by a categorical rank, then other columns; stable, so equal rows keep a deterministic order."""
    ranked = frame.assign(_rank=frame[column].str.lower().map(order).fillna(len(order)))
    return ranked.sort_values(["_rank", *then], ascending=[True, *ascending], kind="mergesort").drop(columns="_rank")
