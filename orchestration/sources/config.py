"""Which source systems are read from where: `sources.yaml` (path: settings.sources_config).

```yaml
sources:
  lago:     {mode: database, url: postgresql://reader@lago-db:5432/lago}
  keycloak: {mode: database, url: postgresql://reader@keycloak-db:5432/keycloak}
  litellm:  {mode: demo}
```
A missing file (or a system missing from it) means `demo`: the simulator's DuckDB files under
settings.source_dir. `database` takes a `postgresql://` URL or a DuckDB file (`duckdb:///path` or
a path). `api` (Lago, Keycloak) takes a base `url:` and a token read from the environment variable
named by `token_env:` (Keycloak alternatively `client_id:` + `client_secret_env:`); `files` takes a
`landing:` folder (optional `archive:`, `quarantine:`). See sources.yaml.example for every option.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import yaml

if TYPE_CHECKING:
    from orchestration.settings import Settings
    from orchestration.sources.connectors import SourceConnector
    from orchestration.sources.schemas import SourceTable

SYSTEMS = ("lago", "keycloak", "litellm")
SourceMode = Literal["demo", "database", "api", "files"]
MODES = ("demo", "database", "api", "files")


@dataclass(frozen=True)
class SourceConfig:
    system: str
    mode: SourceMode = "demo"
    url: str | None = None
    options: dict[str, object] = field(default_factory=dict)

    def database_location(self, settings: Settings) -> str:
        """Where database-mode reading happens (the demo reads the simulator's DuckDB file)."""
        if self.mode == "demo":
            return str(settings.source_dir / f"{self.system}.duckdb")
        if self.mode == "database":
            return str(self.url)
        raise NotImplementedError(f"source {self.system!r}: mode {self.mode!r} has no connector yet")

    def connector(self, settings: Settings, table: SourceTable | None = None) -> SourceConnector:
        """The connector reading this system (for `table`: api mode sends entities the API lacks to `fallback_url`)."""
        if self.mode == "api":
            from orchestration.sources.connectors.remote import api_connector

            return api_connector(self, table)
        if self.mode == "files":
            from orchestration.sources.connectors.files import FileDropConnector

            return FileDropConnector(self.url or "", self.options.get("archive"), self.options.get("quarantine"))
        from orchestration.sources.connectors import database_connector

        return database_connector(self.database_location(settings), label=self.mode)


def load_sources_config(path: Path | None) -> dict[str, SourceConfig]:
    """Per-system configuration; every system is present (defaulting to demo)."""
    raw: dict = {}
    if path is not None and Path(path).exists():
        raw = (yaml.safe_load(Path(path).read_text()) or {}).get("sources") or {}
    unknown = set(raw) - set(SYSTEMS)
    if unknown:
        raise ValueError(f"{path}: unknown source system(s) {sorted(unknown)}; known: {', '.join(SYSTEMS)}")
    configs = {}
    for system in SYSTEMS:
        entry = dict(raw.get(system) or {})
        mode = entry.pop("mode", "demo")
        if mode not in MODES:
            raise ValueError(f"{path}: source {system!r} has mode {mode!r}; expected one of {', '.join(MODES)}")
        url = entry.pop("url", None) or (entry.pop("landing", None) if mode == "files" else None)
        if mode in ("database", "api") and not url:
            raise ValueError(f"{path}: source {system!r} in {mode} mode needs a `url:`")
        if mode == "files" and not url:
            raise ValueError(f"{path}: source {system!r} in files mode needs a `landing:` folder")
        if mode == "api":
            from orchestration.sources.connectors.remote import check_api_options

            check_api_options(system, entry, where=str(path))
        configs[system] = SourceConfig(system, mode, url, entry)
    return configs
