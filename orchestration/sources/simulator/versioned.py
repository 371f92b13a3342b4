"""Mutable source records kept as versions: the state at a cutoff is, per row, the latest version
with updated_at <= cutoff; the changes in a window are the latest versions updated inside it."""

from __future__ import annotations

import numpy as np


class VersionedTable:
    """Growable struct-of-arrays (current values) plus a log of row versions stamped with updated_at."""

    def __init__(self, columns: dict[str, type | np.dtype]) -> None:
        self.dtypes = {name: np.dtype(dtype) for name, dtype in columns.items()}
        self.n = 0
        self._cols = {name: np.zeros(64, dtype) for name, dtype in self.dtypes.items()}
        self._updated = np.zeros(64, np.int64)
        self._log: list[tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]] = []  # (rows, updated_at, values)
        self._compiled: tuple[int, dict[str, np.ndarray]] | None = None

    def __getitem__(self, name: str) -> np.ndarray:
        return self._cols[name][: self.n]

    def _grow(self, needed: int) -> None:
        cap = len(self._updated)
        if needed <= cap:
            return
        new_cap = max(needed, cap * 2)
        for name, arr in self._cols.items():
            grown = np.zeros(new_cap, arr.dtype)
            grown[:cap] = arr
            self._cols[name] = grown
        grown = np.zeros(new_cap, np.int64)
        grown[:cap] = self._updated
        self._updated = grown

    def insert(self, updated_at: np.ndarray | int, **values: np.ndarray) -> np.ndarray:
        count = next((v.size for v in values.values() if isinstance(v, np.ndarray) and v.ndim), 1)
        rows = np.arange(self.n, self.n + count)
        if count == 0:
            return rows
        self._grow(self.n + count)
        self.n += count
        for name, arr in self._cols.items():
            arr[rows] = values.get(name, 0)
        self._record(rows, np.broadcast_to(np.asarray(updated_at, np.int64), (count,)))
        return rows

    def update(self, rows: np.ndarray, updated_at: np.ndarray | int, **values: np.ndarray) -> None:
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return
        if np.unique(rows).size != rows.size:
            raise ValueError("update() got a row twice in one batch")
        for name, value in values.items():
            self._cols[name][rows] = value
        # A row's versions must be ordered in time: never stamp one before the previous.
        ts = np.maximum(np.broadcast_to(np.asarray(updated_at, np.int64), rows.shape), self._updated[rows] + 1)
        self._record(rows, ts)

    def _record(self, rows: np.ndarray, ts: np.ndarray) -> None:
        self._updated[rows] = ts
        self._log.append((rows.copy(), ts.copy(), {name: arr[rows].copy() for name, arr in self._cols.items()}))
        self._compiled = None

    def updated_at(self) -> np.ndarray:
        return self._updated[: self.n]

    def versions(self) -> dict[str, np.ndarray]:
        """All versions, ordered by (row, updated_at, sequence)."""
        if self._compiled is None or self._compiled[0] != len(self._log):
            if not self._log:
                out = {name: np.zeros(0, dtype) for name, dtype in self.dtypes.items()}
                out["_row"], out["_updated_at"] = np.zeros(0, np.int64), np.zeros(0, np.int64)
            else:
                rows = np.concatenate([r for r, _, _ in self._log])
                ts = np.concatenate([t for _, t, _ in self._log])
                order = np.lexsort((np.arange(rows.size), ts, rows))
                out = {name: np.concatenate([v[name] for _, _, v in self._log])[order] for name in self.dtypes}
                out["_row"], out["_updated_at"] = rows[order], ts[order]
            self._compiled = (len(self._log), out)
        return self._compiled[1]

    def latest(self, since_us: int | None, until_us: int) -> dict[str, np.ndarray]:
        """Latest version per row among versions with since < updated_at <= until (since None: no lower bound)."""
        v = self.versions()
        keep = v["_updated_at"] <= until_us
        if since_us is not None:
            keep &= v["_updated_at"] > since_us
        idx = np.flatnonzero(keep)
        rows = v["_row"][idx]
        last = np.ones(idx.size, bool)
        last[:-1] = rows[1:] != rows[:-1]
        idx = idx[last]
        return {name: arr[idx] for name, arr in v.items()}
