"""`api` mode of sources.yaml: options per system and the connector they build."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from orchestration.settings import read_secret
from orchestration.sources.connectors.http import HttpPolicy

if TYPE_CHECKING:
    from orchestration.sources.config import SourceConfig
    from orchestration.sources.connectors.base import SourceConnector
    from orchestration.sources.schemas import SourceTable

API_OPTIONS: dict[str, set[str]] = {
    "lago": {"token_env", "per_page", "reread_days", "max_passes", "http", "fallback_url"},
    "keycloak": {
        "realm",
        "token_env",
        "client_id",
        "client_secret_env",
        "token_realm",
        "page_size",
        "max_passes",
        "http",
    },
}


def check_api_options(system: str, options: Mapping[str, Any], where: str = "sources config") -> None:
    """Fail at load time, naming the key, rather than on the first extraction."""
    if system not in API_OPTIONS:
        raise ValueError(
            f"{where}: source {system!r} has no api mode (LiteLLM exposes spend logs only per key/user, not as a "
            "paginated export); use database or files"
        )
    unknown = set(options) - API_OPTIONS[system]
    if unknown:
        raise ValueError(
            f"{where}: source {system!r} (api): unknown option(s) {sorted(unknown)}; "
            f"known: {sorted(API_OPTIONS[system])}"
        )
    HttpPolicy.from_mapping(options.get("http"))
    if system == "lago" and not options.get("token_env"):
        raise ValueError(f"{where}: source 'lago' (api) needs `token_env:` (the variable holding the API key)")
    if system == "keycloak":
        if not options.get("realm"):
            raise ValueError(f"{where}: source 'keycloak' (api) needs `realm:`")
        if not options.get("token_env") and not (options.get("client_id") and options.get("client_secret_env")):
            raise ValueError(
                f"{where}: source 'keycloak' (api) needs `token_env:` or `client_id:` + `client_secret_env:`"
            )


def api_connector(
    config: SourceConfig, table: SourceTable | None = None, env: Mapping[str, str] | None = None
) -> SourceConnector:
    options = config.options
    policy = HttpPolicy.from_mapping(options.get("http"))
    if config.system == "lago":
        from orchestration.sources.connectors.lago_api import UNAVAILABLE, LagoApiConnector

        if table is not None and table.name in UNAVAILABLE and options.get("fallback_url"):
            from orchestration.sources.connectors.database import database_connector

            return database_connector(str(options["fallback_url"]), label="database")
        return LagoApiConnector(
            str(config.url),
            read_secret(str(options["token_env"]), env),
            per_page=int(options.get("per_page", 100)),
            reread_days=int(options.get("reread_days", 60)),
            max_passes=int(options.get("max_passes", 3)),
            policy=policy,
        )
    if config.system == "keycloak":
        from orchestration.sources.connectors.keycloak_api import KeycloakApiConnector

        token_env, secret_env = options.get("token_env"), options.get("client_secret_env")
        return KeycloakApiConnector(
            str(config.url),
            str(options["realm"]),
            token=read_secret(str(token_env), env) if token_env else None,
            client_id=options.get("client_id"),
            client_secret=read_secret(str(secret_env), env) if secret_env else None,
            token_realm=options.get("token_realm"),
            page_size=int(options.get("page_size", 100)),
            max_passes=int(options.get("max_passes", 3)),
            policy=policy,
        )
    check_api_options(config.system, options)
    raise AssertionError("unreachable")
