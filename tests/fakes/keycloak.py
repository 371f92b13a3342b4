"""A fake Keycloak Admin REST API serving the JPA-table rows (`keycloak.user_entity`, …) as representations.

- `GET /admin/realms/{realm}` -> RealmRepresentation (`id`, `realm`)
- `GET /admin/realms/{realm}/users?first=&max=&briefRepresentation=` -> a bare JSON array of
  UserRepresentation ordered by username; service-account users are not listed; `attributes` unless brief
- `GET /admin/realms/{realm}/users/count` -> a bare number
- `GET /admin/realms/{realm}/events?dateFrom=&dateTo=&first=&max=&direction=` -> EventRepresentation array,
  newest first unless `direction=asc` (`legacy_order=True` ignores `direction`, like older releases)
- `POST /realms/{realm}/protocol/openid-connect/token` (client credentials) -> an access token
"""

from __future__ import annotations

import bisect
import json
import secrets
from typing import Any

import pyarrow as pa

from tests.fakes.server import FakeApiServer, HttpError, Params

Row = dict[str, Any]


class FakeKeycloakApi(FakeApiServer):
    def __init__(
        self,
        tables: dict[str, pa.Table],
        realms: dict[str, str],  # realm name -> realm id
        token: str = "kc-test-token",
        clients: dict[str, str] | None = None,  # client_id -> secret (client-credentials grant)
        legacy_order: bool = False,
    ) -> None:
        super().__init__(token)
        self.realms = realms
        self.clients = clients or {}
        self.issued: set[str] = {token}
        self.legacy_order = legacy_order
        self.users: list[Row] = tables["keycloak.user_entity"].to_pylist()
        self.attributes: list[Row] = tables["keycloak.user_attribute"].to_pylist()
        self.events: list[Row] = tables["keycloak.event_entity"].to_pylist()
        self._sorted: tuple[int, list[Row], dict[str, dict[str, list[str]]]] | None = None
        self._version = 0
        self.count_offset = 0  # a /users/count that disagrees with the listing (tests)

    def authorized(self, path: str, headers: Any) -> bool:
        if path.endswith("/protocol/openid-connect/token"):
            return True
        auth = headers.get("Authorization") or ""
        return auth.startswith("Bearer ") and auth[7:] in self.issued

    # --- data changes (tests) ------------------------------------------------------------------
    def delete_user(self, user_id: str) -> None:
        with self.lock:
            self.users = [u for u in self.users if u["id"] != user_id]
            self.attributes = [a for a in self.attributes if a["user_id"] != user_id]
            self._version += 1

    def add_user(self, user: Row) -> None:
        with self.lock:
            self.users.append(user)
            self._version += 1

    def revoke_tokens(self) -> None:
        with self.lock:
            self.issued.clear()

    # --- routing -------------------------------------------------------------------------------
    def handle(self, method: str, path: str, params: Params, form: Params) -> object:
        parts = path.strip("/").split("/")
        if (
            method == "POST"
            and len(parts) == 5
            and parts[0] == "realms"
            and parts[2:] == ["protocol", "openid-connect", "token"]
        ):
            return self._token(form)
        if method != "GET" or len(parts) < 3 or parts[:2] != ["admin", "realms"]:
            raise HttpError(404, {"error": "HTTP 404 Not Found"})
        realm_name, rest = parts[2], parts[3:]
        realm_id = self.realms.get(realm_name)
        if realm_id is None:
            raise HttpError(404, {"error": "Realm not found."})
        if rest == []:
            return {
                "id": realm_id,
                "realm": realm_name,
                "enabled": True,
                "eventsEnabled": True,
                "eventsExpiration": 2592000,
            }
        if rest == ["users", "count"]:
            return len(self._users_sorted(realm_id)[0]) + self.count_offset
        if rest == ["users"]:
            users, attributes = self._users_sorted(realm_id)
            first, size = _int(params, "first", 0), _int(params, "max", 100)
            brief = params.get("briefRepresentation", ["false"])[0] == "true"
            return [self._user(u, None if brief else attributes.get(u["id"], {})) for u in users[first : first + size]]
        if rest == ["events"]:
            return self._events(realm_id, params)
        raise HttpError(404, {"error": "HTTP 404 Not Found"})

    def _token(self, form: Params) -> dict[str, Any]:
        client_id = form.get("client_id", [""])[0]
        if (
            form.get("grant_type", [""])[0] != "client_credentials"
            or self.clients.get(client_id) != form.get("client_secret", [None])[0]
        ):
            raise HttpError(401, {"error": "unauthorized_client"})
        token = secrets.token_hex(16)
        with self.lock:
            self.issued.add(token)
        return {"access_token": token, "expires_in": 300, "token_type": "Bearer", "scope": "profile email"}

    def _users_sorted(self, realm_id: str) -> tuple[list[Row], dict[str, dict[str, list[str]]]]:
        with self.lock:
            if self._sorted is None or self._sorted[0] != self._version:
                listed = sorted(
                    (u for u in self.users if u["service_account_client_link"] is None), key=lambda u: u["username"]
                )
                attributes: dict[str, dict[str, list[str]]] = {}
                for a in sorted(self.attributes, key=lambda a: (a["user_id"], a["name"], a["id"])):
                    attributes.setdefault(a["user_id"], {}).setdefault(a["name"], []).append(a["value"])
                self._sorted = (self._version, listed, attributes)
            _, listed, attributes = self._sorted
        return [u for u in listed if u["realm_id"] == realm_id], attributes

    @staticmethod
    def _user(u: Row, attributes: dict[str, list[str]] | None) -> dict[str, Any]:
        rep = {
            "id": u["id"],
            "username": u["username"],
            "firstName": u["first_name"],
            "lastName": u["last_name"],
            "email": u["email"],
            "emailVerified": u["email_verified"],
            "createdTimestamp": u["created_timestamp"],
            "enabled": u["enabled"],
            "totp": False,
            "disableableCredentialTypes": [],
            "requiredActions": [],
            "notBefore": 0,
        }
        if attributes:
            rep["attributes"] = attributes
        return {k: v for k, v in rep.items() if v is not None}  # Keycloak omits nulls

    def _events(self, realm_id: str, params: Params) -> list[dict[str, Any]]:
        low, high = _int(params, "dateFrom", None), _int(params, "dateTo", None)
        events, times = self._events_sorted(realm_id)
        start = 0 if low is None else bisect.bisect_left(times, low)
        stop = len(times) if high is None else bisect.bisect_right(times, high)
        first, size = _int(params, "first", 0), _int(params, "max", 100)
        if params.get("direction", ["desc"])[0] == "asc" and not self.legacy_order:
            chosen = events[start + first : min(stop, start + first + size)]
        else:  # newest first
            chosen = events[max(start, stop - first - size) : max(start, stop - first)][::-1]
        return [self._event(e) for e in chosen]

    def _events_sorted(self, realm_id: str) -> tuple[list[Row], list[int]]:
        with self.lock:
            key = ("events", realm_id, self._version, len(self.events))
            if getattr(self, "_events_cache", (None,))[0] != key:
                events = sorted(
                    (e for e in self.events if e["realm_id"] == realm_id), key=lambda e: (e["event_time"], e["id"])
                )
                self._events_cache = (key, events, [e["event_time"] for e in events])
            return self._events_cache[1], self._events_cache[2]

    @staticmethod
    def _event(e: Row) -> dict[str, Any]:
        rep = {
            "id": e["id"],
            "time": e["event_time"],
            "type": e["type"],
            "realmId": e["realm_id"],
            "clientId": e["client_id"],
            "userId": e["user_id"],
            "sessionId": e["session_id"],
            "ipAddress": e["ip_address"],
            "error": e["error"],
            "details": json.loads(e["details_json"]) if e["details_json"] else None,
        }
        return {k: v for k, v in rep.items() if v is not None}


def _int(params: Params, name: str, default: int | None) -> int | None:
    value = params.get(name, [None])[0]
    return default if value in (None, "") else int(value)
