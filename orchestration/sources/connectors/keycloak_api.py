"""Keycloak Admin REST connector -> the JPA-table contract of schemas.py (`user_entity`, `user_attribute`,
`event_entity`).

- Realm name -> realm id: `GET /admin/realms/{realm}` (rows carry the id, as `REALM_ID` does).
- Users (snapshot entity: no updated-at, hard deletes): `GET /users?first=&max=&briefRepresentation=false`
  (a bare JSON array) checked against `GET /users/count` before and after the read. A snapshot that
  does not add up is read again (bounded) and the union kept only when it covers the count; otherwise
  the read fails, because the loader records every key missing from a snapshot as deleted.
- Attributes come with the users (`attributes: {name: [values]}`); the API has no attribute row id, so
  `user_attribute.id` is a deterministic surrogate (uuid5 of user id, name, value).
- Events: `GET /events?dateFrom=<ms>&dateTo=<ms>&first=&max=&direction=asc`. `dateFrom` is the stored
  cursor's `event_time` minus the table lookback (the overlap); `dateTo` is fixed when the read starts.
  Paging is keyset on time (the next page starts at the last event time seen, skipping the events
  already read at that millisecond), so events expiring at the low end cannot shift pages; everything
  is de-duplicated by event id. A server that ignores `direction` (older releases: newest first) is
  detected and read by plain offsets over the fixed window.
- Auth: a static bearer token, or client credentials against the token endpoint (refreshed on expiry
  and once on a 401).

Gaps (API_GAPS): service-account users are not listed by `/users` and `serviceAccountClientId` is a
client id rather than the internal link, so `service_account_client_link` is NULL; attribute ids are
surrogates (see above).
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
import uuid
from typing import Any

import pyarrow as pa
import requests

from orchestration.sources.connectors import apimap
from orchestration.sources.connectors.http import BearerToken, HttpPolicy, JsonApiClient
from orchestration.sources.schemas import SourceTable

log = logging.getLogger(__name__)

API_GAPS: dict[str, dict[str, str]] = {
    "user_entity": {
        "service_account_client_link": "service-account users are not listed by /users; the column stays NULL",
    },
    "user_attribute": {"id": "the API has no attribute row id: uuid5(user id, name, value) surrogate"},
}
ATTRIBUTE_ID_NAMESPACE = uuid.UUID("6f1c1d8e-4f8e-4d3c-9a51-0c7f4b2f9e11")


class ApiShapeError(RuntimeError):
    """A 200 response that is not the documented shape."""


class SnapshotIncompleteError(RuntimeError):
    """The user listing did not add up to /users/count: loading it would record false deletions."""


class ClientCredentialsAuth(requests.auth.AuthBase):
    """OAuth2 client-credentials token from Keycloak's token endpoint, refreshed before expiry and on a 401."""

    def __init__(self, token_url: str, client_id: str, client_secret: str, policy: HttpPolicy | None = None) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.policy = policy or HttpPolicy()
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def token(self, refresh: bool = False) -> str:
        with self._lock:
            if refresh or self._token is None or time.monotonic() >= self._expires:
                response = requests.post(
                    self.token_url,
                    data={
                        "grant_type": "client_credentials",
                        "client_id": self.client_id,
                        "client_secret": self.client_secret,
                    },
                    timeout=(self.policy.connect_timeout, self.policy.read_timeout),
                )
                response.raise_for_status()
                body = response.json()
                self._token = body["access_token"]
                self._expires = time.monotonic() + max(5.0, float(body.get("expires_in", 60)) - 30.0)
            return self._token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        request.register_hook("response", self._retry_on_401)
        return request

    def _retry_on_401(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        if response.status_code != 401 or getattr(response.request, "_token_refreshed", False):
            return response
        response.content  # noqa: B018 - drain, so the connection returns to the pool
        retry = response.request.copy()
        retry.headers["Authorization"] = f"Bearer {self.token(refresh=True)}"
        retry._token_refreshed = True  # type: ignore[attr-defined]
        new = response.connection.send(retry, **kwargs)
        new.history.append(response)
        new.request = retry
        return new


class KeycloakApiConnector:
    """`SourceConnector` for the Keycloak Admin REST API of one realm."""

    label = "api"

    def __init__(
        self,
        base_url: str,
        realm: str,
        *,
        token: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        token_realm: str | None = None,
        page_size: int = 100,
        max_passes: int = 3,
        policy: HttpPolicy | None = None,
    ) -> None:
        base = base_url.rstrip("/")
        if token:
            auth: requests.auth.AuthBase = BearerToken(token)
        elif client_id and client_secret:
            token_url = f"{base}/realms/{token_realm or realm}/protocol/openid-connect/token"
            auth = ClientCredentialsAuth(token_url, client_id, client_secret, policy)
        else:
            raise ValueError("Keycloak API needs a token or client_id + client_secret")
        self.client = JsonApiClient(f"{base}/admin/realms/{realm}", policy=policy, auth=auth)
        self.realm = realm
        self.page_size = page_size
        self.max_passes = max_passes
        self._realm_id: str | None = None
        self._users: list[dict[str, Any]] | None = None
        self.pages = 0

    # --- SourceConnector -----------------------------------------------------------------------
    def source_columns(self, table: SourceTable) -> list[str]:
        if table.system != "keycloak" or table.name not in ("user_entity", "user_attribute", "event_entity"):
            raise LookupError(f"the Keycloak API connector cannot read {table.key}")
        return list(table.column_names)

    def read(
        self, table: SourceTable, lower_bound: tuple[str, object] | None = None, batch_rows: int = 250_000
    ) -> pa.RecordBatchReader:
        return self.read_table(table, lower_bound).to_reader(max_chunksize=batch_rows)

    def close(self) -> None:
        self.client.close()

    def read_table(self, table: SourceTable, lower_bound: tuple[str, object] | None = None) -> pa.Table:
        self.source_columns(table)
        if table.name == "user_entity":
            rows = [self._user_row(u) for u in self.users()]
        elif table.name == "user_attribute":
            rows = [row for u in self.users() for row in self._attribute_rows(u)]
        else:
            date_from = int(lower_bound[1]) if lower_bound is not None else None
            rows = [self._event_row(e) for e in self.events(date_from)]
        return apimap.to_arrow(table, rows)

    # --- realm, users, events ------------------------------------------------------------------
    @property
    def realm_id(self) -> str:
        if self._realm_id is None:
            realm = self.client.get_json("", page="realm")
            if not isinstance(realm, dict) or not realm.get("id"):
                raise ApiShapeError(f"keycloak realm {self.realm!r}: representation without an id")
            self._realm_id = realm["id"]
        return self._realm_id

    def users(self) -> list[dict[str, Any]]:
        """The realm's users, complete (checked against /users/count); read once per connector."""
        if self._users is not None:
            return self._users
        merged: dict[str, dict[str, Any]] = {}
        for attempt in range(1, self.max_passes + 1):
            count_before = self._count()
            listed = self._list_users()
            count_after = self._count()
            merged.update(listed)
            if count_before == count_after == len(listed):
                break
            log.warning(
                "keycloak users changed while paging (pass %d: %d listed, count %d -> %d); reading again",
                attempt,
                len(listed),
                count_before,
                count_after,
            )
        else:
            if len(merged) < count_after:
                raise SnapshotIncompleteError(
                    f"keycloak realm {self.realm!r}: {len(merged)} users listed after {self.max_passes} passes, "
                    f"but /users/count says {count_after}; not loading a partial snapshot"
                )
        self._users = list(merged.values())
        return self._users

    def _count(self) -> int:
        count = self.client.get_json("users/count", page="count")
        if not isinstance(count, int):
            raise ApiShapeError(f"keycloak /users/count returned {str(count)[:100]!r}, expected a number")
        return count

    def _list_users(self) -> dict[str, dict[str, Any]]:
        users: dict[str, dict[str, Any]] = {}
        first = 0
        while True:
            params = {"first": first, "max": self.page_size, "briefRepresentation": "false"}
            page = self.client.get_json("users", params, page=first // self.page_size + 1)
            self.pages += 1
            if not isinstance(page, list) or not all(isinstance(u, dict) and u.get("id") for u in page):
                raise ApiShapeError(f"keycloak /users (first={first}): expected a JSON array of users with ids")
            users.update((u["id"], u) for u in page)
            if len(page) < self.page_size:
                return users
            first += self.page_size

    def events(self, date_from: int | None) -> list[dict[str, Any]]:
        """Events with time in [date_from, now], de-duplicated by id (keyset paging on time)."""
        date_to = int(time.time() * 1000)
        since = date_from if date_from is not None else 0
        skip = 0
        seen: dict[str, dict[str, Any]] = {}
        page_number = 0
        while True:
            params = {"dateFrom": since, "dateTo": date_to, "first": skip, "max": self.page_size, "direction": "asc"}
            page_number += 1
            page = self.client.get_json("events", params, page=page_number)
            self.pages += 1
            if not isinstance(page, list) or not all(isinstance(e, dict) and "time" in e for e in page):
                raise ApiShapeError(f"keycloak /events (page {page_number}): expected a JSON array of events")
            times = [int(e["time"]) for e in page]
            if any(b < a for a, b in itertools.pairwise(times)):
                log.warning("keycloak ignores direction=asc (older release): reading by offsets")
                return self._events_by_offset(since, date_to)
            for event in page:
                seen[_event_id(event)] = event
            if len(page) < self.page_size:
                break
            last = times[-1]
            at_last = sum(1 for t in times if t == last)
            if last == since:  # a whole page within one millisecond: move the offset on
                skip += len(page)
            else:
                since, skip = last, at_last
        return sorted(seen.values(), key=lambda e: (int(e["time"]), _event_id(e)))

    def _events_by_offset(self, date_from: int, date_to: int) -> list[dict[str, Any]]:
        seen: dict[str, dict[str, Any]] = {}
        first = 0
        while True:
            params = {"dateFrom": date_from, "dateTo": date_to, "first": first, "max": self.page_size}
            page = self.client.get_json("events", params, page=first // self.page_size + 1)
            self.pages += 1
            if not isinstance(page, list):
                raise ApiShapeError(f"keycloak /events (first={first}): expected a JSON array")
            seen.update((_event_id(e), e) for e in page)
            if len(page) < self.page_size:
                return sorted(seen.values(), key=lambda e: (int(e["time"]), _event_id(e)))
            first += self.page_size

    # --- mapping -------------------------------------------------------------------------------
    def _user_row(self, u: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": u["id"],
            "username": u.get("username"),
            "email": u.get("email"),
            "email_verified": u.get("emailVerified"),
            "enabled": u.get("enabled"),
            "first_name": u.get("firstName"),
            "last_name": u.get("lastName"),
            "created_timestamp": u.get("createdTimestamp"),
            "realm_id": self.realm_id,
            "service_account_client_link": None,
        }

    def _attribute_rows(self, u: dict[str, Any]) -> list[dict[str, Any]]:
        rows = []
        for name, values in (u.get("attributes") or {}).items():
            for value in values if isinstance(values, list) else [values]:
                key = "\x1f".join((u["id"], name, "" if value is None else str(value)))
                rows.append(
                    {
                        "id": str(uuid.uuid5(ATTRIBUTE_ID_NAMESPACE, key)),
                        "user_id": u["id"],
                        "name": name,
                        "value": value,
                    }
                )
        return rows

    def _event_row(self, e: dict[str, Any]) -> dict[str, Any]:
        details = e.get("details")
        return {
            "id": _event_id(e),
            "type": e.get("type"),
            "event_time": int(e["time"]),
            "user_id": e.get("userId"),
            "session_id": e.get("sessionId"),
            "ip_address": e.get("ipAddress"),
            "client_id": e.get("clientId"),
            "realm_id": e.get("realmId") or self.realm_id,
            "error": e.get("error"),
            "details_json": json.dumps(details, separators=(",", ":")) if details else None,
        }


def _event_id(event: dict[str, Any]) -> str:
    """The event id (Keycloak 22+); older servers send none, then a digest of the event stands in."""
    if event.get("id"):
        return str(event["id"])
    digest = json.dumps(event, sort_keys=True, separators=(",", ":"))
    return str(uuid.uuid5(ATTRIBUTE_ID_NAMESPACE, digest))
