"""The HTTP session shared by the REST connectors (Lago, Keycloak).

One `requests.Session` per connector keeps connections alive across pages. Every GET runs under a
tenacity policy: timeouts, and retries with exponential backoff plus full jitter on 429, 5xx,
connection errors, timeouts and unparsable (e.g. truncated) JSON bodies. A `Retry-After` header
(seconds or an HTTP date) replaces the backoff for that attempt. A request that still fails raises
`PageFetchError` naming the URL and the page, so the asset fails there and the cursor does not move.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class HttpPolicy:
    """Timeouts and retry budget of one connector (values in seconds)."""

    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    max_attempts: int = 8
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 300.0  # never sleep longer than this on a server's say-so
    total_deadline: float = 900.0  # give up on one request after this long, whatever the attempt count
    pool_size: int = 4

    @classmethod
    def from_mapping(cls, values: dict[str, Any] | None) -> HttpPolicy:
        unknown = set(values or {}) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown http settings {sorted(unknown)}; known: {sorted(cls.__dataclass_fields__)}")
        return cls(**(values or {}))


class RetryableResponseError(Exception):
    """A response worth retrying (429/5xx or an unparsable body)."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class PageFetchError(RuntimeError):
    """A page that could not be read: the extraction fails here and its cursor stays where it was."""

    def __init__(self, url: str, page: object, attempts: int, cause: BaseException) -> None:
        super().__init__(f"GET {url} (page {page}) failed after {attempts} attempt(s): {cause}")
        self.url = url
        self.page = page
        self.attempts = attempts
        self.cause = cause


RETRYABLE_EXCEPTIONS = (
    RetryableResponseError,
    requests.ConnectionError,  # includes ConnectTimeout
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,  # connection dropped mid-body
    requests.exceptions.ContentDecodingError,
)


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = now or dt.datetime.now(dt.UTC)
    return max(0.0, (when - now).total_seconds())


class _RetryAfterOrBackoff:
    """tenacity wait: the server's Retry-After when it gave one, else exponential backoff with full jitter."""

    def __init__(self, policy: HttpPolicy) -> None:
        self.policy = policy
        self.backoff = wait_random_exponential(multiplier=policy.backoff_initial, max=policy.backoff_max)

    def __call__(self, retry_state: RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            # a little jitter on top, so clients told the same instant do not all return together
            return min(retry_after, self.policy.retry_after_max) + random.uniform(0, self.policy.backoff_initial)
        return self.backoff(retry_state)


class JsonApiClient:
    """GET JSON documents from one REST API over a keep-alive session, with retries."""

    def __init__(
        self,
        base_url: str,
        *,
        policy: HttpPolicy | None = None,
        headers: dict[str, str] | None = None,
        auth: requests.auth.AuthBase | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.sleep = sleep  # injectable, so tests can see the waits without waiting
        self.base_url = base_url.rstrip("/")
        self.policy = policy or HttpPolicy()
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=self.policy.pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"Accept": "application/json", "User-Agent": "saas-metrics-warehouse"})
        self.session.headers.update(headers or {})
        self.session.auth = auth
        self.requests_sent = 0
        self.retries = 0
        self.waits: list[float] = []

    def __enter__(self) -> JsonApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}/{path.lstrip('/')}"

    def get_json(
        self, path: str, params: dict[str, Any] | list[tuple[str, Any]] | None = None, *, page: object = 1
    ) -> Any:
        """The parsed JSON body of GET `path`; `page` only labels errors."""
        url = self.url(path)
        retrying = Retrying(
            retry=retry_if_exception_type(RETRYABLE_EXCEPTIONS),
            wait=_RetryAfterOrBackoff(self.policy),
            stop=stop_after_attempt(self.policy.max_attempts) | stop_after_delay(self.policy.total_deadline),
            before_sleep=self._count_retry,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return retrying(self._get_once, url, params)
        except RETRYABLE_EXCEPTIONS as exc:
            attempts = retrying.statistics.get("attempt_number", self.policy.max_attempts)
            raise PageFetchError(self._full_url(url, params), page, attempts, exc) from exc
        except requests.HTTPError as exc:  # not retryable: 4xx other than 408/425/429
            raise PageFetchError(self._full_url(url, params), page, 1, exc) from exc

    def _count_retry(self, _state: RetryCallState) -> None:
        self.retries += 1

    def _sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.sleep(seconds)

    def _full_url(self, url: str, params: object) -> str:
        return requests.Request("GET", url, params=params).prepare().url or url

    def _get_once(self, url: str, params: object) -> Any:
        self.requests_sent += 1
        timeout = (self.policy.connect_timeout, self.policy.read_timeout)
        response = self.session.get(url, params=params, timeout=timeout)
        if response.status_code in RETRYABLE_STATUS:
            raise RetryableResponseError(
                f"HTTP {response.status_code} {response.reason}",
                status=response.status_code,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if response.status_code >= 400:
            detail = response.text[:300].replace("\n", " ")
            raise requests.HTTPError(f"HTTP {response.status_code} {response.reason}: {detail}", response=response)
        try:
            return json.loads(response.content)
        except ValueError as exc:  # a truncated or garbled body: read it again
            raise RetryableResponseError(f"invalid JSON body ({len(response.content)} bytes): {exc}") from exc


class BearerToken(requests.auth.AuthBase):
    """`Authorization: Bearer <token>` on every request."""

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("empty API token")
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request
