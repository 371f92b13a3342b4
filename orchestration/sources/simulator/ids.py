"""Deterministic identifiers and fast vectorised hex formatting."""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa

_HEX = np.array([f"{i:02x}".encode() for i in range(256)], dtype="S2").view(np.uint16)


def splitmix64(x: np.ndarray) -> np.ndarray:
    z = np.asarray(x, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def hex_strings(words: np.ndarray) -> np.ndarray:
    """(n, k) uint64 -> n fixed-width hex byte strings of 16k characters (big-endian)."""
    words = np.ascontiguousarray(words, dtype=">u8")
    n, k = words.shape
    digits = _HEX[words.view(np.uint8).reshape(n, 8 * k)]
    return np.ascontiguousarray(digits).view(f"S{16 * k}").reshape(n)


def uuid_strings(words: np.ndarray) -> pa.Array:
    """(n, 2) uint64 -> UUID-formatted strings (version 4 layout)."""
    h = hex_strings(words).view("S1").reshape(-1, 32)
    out = np.full((h.shape[0], 36), b"-", dtype="S1")
    for dst, src in (
        (slice(0, 8), slice(0, 8)),
        (slice(9, 13), slice(8, 12)),
        (slice(14, 18), slice(12, 16)),
        (slice(19, 23), slice(16, 20)),
        (slice(24, 36), slice(20, 32)),
    ):
        out[:, dst] = h[:, src]
    out[:, 14] = b"4"
    return pa.array(np.ascontiguousarray(out).view("S36").reshape(-1)).cast(pa.string())


def entity_uuids(seed: int, namespace: int, ids: np.ndarray) -> pa.Array:
    """Stable UUID per (seed, namespace, integer id)."""
    ids = np.asarray(ids, dtype=np.uint64)
    base = splitmix64(
        np.uint64(seed) * np.uint64(1_000_003)
        + np.uint64(namespace) * np.uint64(7_919)
        + ids * np.uint64(0x100000001B3)
    )
    return uuid_strings(np.stack([splitmix64(base), splitmix64(base ^ np.uint64(0xDEADBEEF))], axis=1))


def random_uuids(generator: np.random.Generator, n: int) -> pa.Array:
    return uuid_strings(generator.integers(0, 2**63, size=(n, 2), dtype=np.int64).astype(np.uint64))


def sha256_hex(values: list[str]) -> list[str]:
    return [hashlib.sha256(v.encode()).hexdigest() for v in values]
