"""Benchmark of the REST connectors against local fake APIs (run: .venv/bin/python bench/bench_connectors.py).

1. Lago: a 100k-row invoice history extracted with per_page=100 (bar: <= 60 s), fault-free, over one
   keep-alive connection; prints rows/s, requests/s and the TCP connections the server accepted.
2. Lago again with every fault kind sprinkled over the listing (429 + Retry-After, 500/503 bursts, a
   timeout, truncated JSON, a page that changes between reads): must equal the fault-free result with
   0 rows lost or duplicated; prints the extra time the retries cost.
3. Keycloak: the events of the simulated company (SMALL_COMPANY) by keyset paging, max=100.

The fake server runs in a child process (like a real API server), so client and server do not share a GIL.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the fakes live in tests/ (not installed)

from orchestration.sources.connectors.http import HttpPolicy
from orchestration.sources.connectors.keycloak_api import KeycloakApiConnector
from orchestration.sources.connectors.lago_api import LagoApiConnector
from orchestration.sources.schemas import TABLES_BY_KEY

INVOICES = TABLES_BY_KEY["lago.invoices"]
EVENTS = TABLES_BY_KEY["keycloak.event_entity"]


def _serve_lago(n_invoices: int, faults: bool, ready: Any, stop: Any) -> None:
    from tests.fakes.lago import FakeLagoApi
    from tests.fakes.sample import lago_tables
    from tests.fakes.server import Fault

    per_customer = 10
    tables = lago_tables(n_customers=n_invoices // per_customer, invoices_per_customer=per_customer)
    server = FakeLagoApi(tables, token="bench-token").start()
    if faults:
        latest = max(server.rows["invoices"], key=lambda r: (r["issuing_date"], r["created_at"]))
        newest = {
            **latest,
            "id": str(uuid.uuid4()),
            "number": "INV-BENCH-NEW",
            "issuing_date": latest["issuing_date"] + dt.timedelta(days=1),
            "created_at": latest["created_at"] + dt.timedelta(days=1),
        }
        pages = max(10, n_invoices // 100)  # faults spread over the listing, whatever its length

        def at(fraction: float) -> str:
            return str(max(2, int(pages * fraction)))

        for fraction in (0.05, 0.4, 0.75):
            server.add_fault(Fault("status", "/invoices", {"page": at(fraction)}, times=1, status=429, retry_after="1"))
        for fraction in (0.12, 0.62):
            server.add_fault(Fault("status", "/invoices", {"page": at(fraction)}, times=3, status=500))
        server.add_fault(Fault("status", "/invoices", {"page": at(0.9)}, times=2, status=503))
        server.add_fault(Fault("timeout", "/invoices", {"page": at(0.3)}, times=1, delay=3.0))
        server.add_fault(Fault("truncate", "/invoices", {"page": at(0.5)}, times=1))
        server.add_fault(
            Fault("mutate", "/invoices", {"page": at(0.2)}, times=1, action=lambda: server.upsert("invoices", [newest]))
        )
    ready.put((server.base_url, len(server.rows["invoices"])))
    stop.wait()
    server.stop()


def _serve_keycloak(ready: Any, stop: Any) -> None:
    from tests.fakes.harness import realm_names, simulated_tables
    from tests.fakes.keycloak import FakeKeycloakApi

    tables = simulated_tables()
    server = FakeKeycloakApi(tables, realm_names(tables), token="bench-token").start()
    ready.put((server.base_url, tables["keycloak.event_entity"].num_rows))
    stop.wait()
    server.stop()


def _in_child(target: Any, *args: Any) -> tuple[tuple[str, int], Any, Any]:
    ctx = mp.get_context("fork")
    ready, stop = ctx.Queue(), ctx.Event()
    process = ctx.Process(target=target, args=(*args, ready, stop), daemon=True)
    process.start()
    return ready.get(timeout=600), stop, process


def _stats(base_url: str) -> dict[str, int]:
    return requests.get(f"{base_url}/_stats", timeout=5).json()


def bench_lago(n_invoices: int, faults: bool) -> tuple[dict[str, Any], Any]:
    (base_url, expected), stop, process = _in_child(_serve_lago, n_invoices, faults)
    try:
        before = _stats(base_url)
        policy = HttpPolicy(read_timeout=1.5, backoff_initial=0.2, backoff_max=2.0)
        connector = LagoApiConnector(base_url, "bench-token", per_page=100, policy=policy)
        started = time.perf_counter()
        table = connector.read_table(INVOICES)
        seconds = time.perf_counter() - started
        after = _stats(base_url)
        connector.close()
    finally:
        stop.set()
        process.join(10)
    ids = table.column("id").to_pylist()
    requests_made = after["requests"] - before["requests"] - 1  # minus the /_stats call itself
    return {
        "scenario": "with faults" if faults else "fault-free",
        "rows": table.num_rows,
        "rows_expected": expected,
        "duplicates": len(ids) - len(set(ids)),
        "seconds": round(seconds, 2),
        "rows_per_s": round(table.num_rows / seconds),
        "requests": requests_made,
        "requests_per_s": round(requests_made / seconds, 1),
        "tcp_connections": after["connections"] - before["connections"] - 1,
        "retries": connector.client.retries,
        "listing_passes": connector.stats.passes,
    }, table.sort_by("id")


def bench_keycloak_events() -> dict[str, Any]:
    (base_url, expected), stop, process = _in_child(_serve_keycloak)
    try:
        before = _stats(base_url)
        connector = KeycloakApiConnector(base_url, "saas", token="bench-token", page_size=100)
        started = time.perf_counter()
        table = connector.read_table(EVENTS)
        seconds = time.perf_counter() - started
        after = _stats(base_url)
    finally:
        stop.set()
        process.join(10)
    requests_made = after["requests"] - before["requests"] - 1
    return {
        "rows": table.num_rows,
        "rows_expected": expected,
        "seconds": round(seconds, 2),
        "rows_per_s": round(table.num_rows / seconds),
        "requests_per_s": round(requests_made / seconds, 1),
        "tcp_connections": after["connections"] - before["connections"] - 1,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--skip-keycloak", action="store_true")
    args = parser.parse_args()

    clean, clean_table = bench_lago(args.invoices, faults=False)
    print("lago invoices", clean)
    print(
        f"  bar: {args.invoices} invoices in <= 60 s with per_page=100 -> "
        f"{'PASS' if clean['seconds'] <= 60 and clean['rows'] == clean['rows_expected'] else 'FAIL'}"
    )
    faulted, faulted_table = bench_lago(args.invoices, faults=True)
    print("lago invoices", faulted)
    same = faulted_table.filter(pc.field("number") != "INV-BENCH-NEW").equals(clean_table)
    print(
        f"  faults converge to the fault-free result (0 lost, 0 duplicated, + the row inserted mid-read): "
        f"{'PASS' if same and faulted['duplicates'] == 0 and faulted['rows'] == clean['rows'] + 1 else 'FAIL'}"
    )
    if not args.skip_keycloak:
        print("keycloak events", bench_keycloak_events())


if __name__ == "__main__":
    main()
