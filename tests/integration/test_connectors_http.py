"""The shared HTTP client: what is retried, how long it waits, and how a dead page is reported."""

from __future__ import annotations

import datetime as dt
import email.utils
import socket

import pytest

from orchestration.sources.connectors.http import (
    BearerToken,
    HttpPolicy,
    JsonApiClient,
    PageFetchError,
    parse_retry_after,
)
from tests.fakes.server import FakeApiServer, Fault, Params

FAST = HttpPolicy(connect_timeout=1, read_timeout=0.5, max_attempts=4, backoff_initial=0.01, backoff_max=0.05)


class EchoApi(FakeApiServer):
    def handle(self, method: str, path: str, params: Params, form: Params) -> object:
        return {"path": path, "page": params.get("page", ["1"])[0]}


def client(server: FakeApiServer, token: str = "test-token") -> JsonApiClient:
    api = JsonApiClient(server.base_url, policy=FAST, auth=BearerToken(token))
    api.sleep = lambda seconds: None
    return api


def test_retry_after_is_honoured_in_seconds_and_as_an_http_date() -> None:
    now = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(email.utils.format_datetime(now + dt.timedelta(seconds=30), usegmt=True), now) == 30.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    with EchoApi() as server:
        server.add_fault(Fault("status", "/things", times=2, status=429, retry_after="4"))
        api = client(server)
        assert api.get_json("things") == {"path": "/things", "page": "1"}
        assert len(api.waits) == 2 and all(4.0 <= w < 4.1 for w in api.waits)


def test_backoff_grows_with_jitter_and_stops_after_the_attempt_budget() -> None:
    with EchoApi() as server:
        server.add_fault(Fault("status", "/things", {"page": "7"}, times=100, status=500))
        api = client(server)
        with pytest.raises(PageFetchError, match=r"things\?page=7 \(page 7\) failed after 4 attempt\(s\): HTTP 500"):
            api.get_json("things", {"page": 7}, page=7)
        assert len(server.requests_to("/things")) == 4 and len(api.waits) == 3
        assert all(0 <= w <= FAST.backoff_max for w in api.waits)


def test_client_errors_are_not_retried() -> None:
    with EchoApi() as server:
        api = client(server, token="wrong")
        with pytest.raises(PageFetchError, match="HTTP 401"):
            api.get_json("things")
        assert len(server.requests_to("/things")) == 1


def test_connection_errors_are_retried_then_reported() -> None:
    with socket.socket() as probe:  # a port with nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api = JsonApiClient(f"http://127.0.0.1:{port}", policy=FAST)
    api.sleep = lambda seconds: None
    with pytest.raises(PageFetchError, match=r"\(page 3\) failed after 4 attempt"):
        api.get_json("things", page=3)
    assert api.requests_sent == 4
