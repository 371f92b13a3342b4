"""File drops: CSV, JSON Lines and Parquet exports of any raw entity, loaded through the one loader.

Landing folder layout (either form):
    <landing>/<raw_name>/<anything>.csv|.jsonl|.ndjson|.parquet      e.g. landing/lago_invoices/2026-10.csv
    <landing>/<raw_name>[__<anything>].csv|.jsonl|.ndjson|.parquet   e.g. landing/keycloak_user_entity__export.parquet
Files starting with "." or "_" or ending in .tmp/.part are ignored (writers should drop a file under a
temporary name and rename it when complete).

Each file is loaded once: `raw._file_drops` records (file name, sha256). A file is merged into its raw
table in one transaction (`load_batches`: contract validation, rejects, merge on the primary key);
after the commit it is recorded and moved to `<archive>/<raw_name>/<name>`. A file that cannot be
loaded at all (unknown entity, unreadable, contract columns missing, empty) is moved to
`<quarantine>/<name>` with `<name>.reason.txt` beside it and recorded with status `quarantined`; rows
that merely break the contract go to `raw._rejects` like any other source's. A crash between commit and
move makes the next scan see the file again: its (name, sha256) is already recorded, so it is only moved.

A file for a snapshot entity (Keycloak users/attributes) is a complete snapshot: keys missing from it
are recorded as deleted, as for the other modes.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from orchestration.extract.contract import SchemaDriftError
from orchestration.extract.loader import ExtractResult, load_batches
from orchestration.extract.tables import RAW_SCHEMA
from orchestration.resources.warehouse import WarehouseResource, qualified
from orchestration.sources.connectors import apimap
from orchestration.sources.schemas import TABLES_BY_RAW_NAME, SourceTable

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
FILE_DROPS_TABLE = "_file_drops"


class FileRejectedError(ValueError):
    """The whole file cannot be loaded (the reason goes next to it in quarantine)."""


@dataclass(frozen=True)
class DroppedFile:
    path: Path
    table: SourceTable | None  # None: the name maps to no entity
    sha256: str
    size: int

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def format(self) -> str:
        return FORMATS[_suffix(self.path)]


@dataclass
class FileLoadReport:
    loaded: list[tuple[DroppedFile, ExtractResult]] = field(default_factory=list)
    quarantined: list[tuple[DroppedFile, str]] = field(default_factory=list)
    already_loaded: list[DroppedFile] = field(default_factory=list)


def _suffix(path: Path) -> str:
    return path.suffix.lower()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _ignored(path: Path) -> bool:
    return path.name.startswith((".", "_")) or path.name.endswith((".tmp", ".part")) or not path.is_file()


class FileDropConnector:
    """Finds, reads, archives and quarantines dropped files of one landing folder."""

    label = "files"

    def __init__(self, landing: str | Path, archive: str | Path | None = None, quarantine: str | Path | None = None):
        self.landing = Path(landing)
        self.archive = Path(archive) if archive else self.landing / "_archive"
        self.quarantine = Path(quarantine) if quarantine else self.landing / "_quarantine"

    # --- discovery -----------------------------------------------------------------------------
    def pending(self, tables: Iterable[SourceTable] | None = None) -> list[DroppedFile]:
        """Files waiting in the landing folder (optionally only those of `tables`), by name.

        Files whose name maps to no entity are always included, so whichever load runs next quarantines them.
        """
        if not self.landing.is_dir():
            return []
        wanted = None if tables is None else {t.raw_name for t in tables}
        found: list[DroppedFile] = []
        for path in sorted(self.landing.iterdir()):
            if path.is_dir() and path.name in TABLES_BY_RAW_NAME:
                candidates = [(p, TABLES_BY_RAW_NAME[path.name]) for p in sorted(path.iterdir())]
            elif path.is_file():
                candidates = [(path, self.entity_of(path.name))]
            else:
                continue
            for file_path, table in candidates:
                if _ignored(file_path) or _suffix(file_path) not in FORMATS:
                    continue
                if wanted is not None and table is not None and table.raw_name not in wanted:
                    continue
                found.append(DroppedFile(file_path, table, _sha256(file_path), file_path.stat().st_size))
        return found

    @staticmethod
    def entity_of(file_name: str) -> SourceTable | None:
        stem = file_name.split(".", 1)[0]
        return TABLES_BY_RAW_NAME.get(stem.split("__", 1)[0])

    # --- reading -------------------------------------------------------------------------------
    def read_file(self, dropped: DroppedFile) -> pa.Table:
        """The file's contract columns (by name; extra columns dropped) as Arrow; raises FileRejectedError."""
        table = dropped.table
        if table is None:
            raise FileRejectedError(
                f"file name {dropped.name!r} names no raw entity (expected <raw_name>[__suffix].ext or a "
                f"<raw_name>/ folder; raw names: {', '.join(sorted(TABLES_BY_RAW_NAME))})"
            )
        try:
            data = {"csv": self._read_csv, "jsonl": self._read_jsonl, "parquet": self._read_parquet}[dropped.format](
                dropped.path, table
            )
        except FileRejectedError:
            raise
        except (pa.ArrowException, ValueError, UnicodeDecodeError, OSError) as exc:
            raise FileRejectedError(f"cannot read {dropped.format} file: {exc}") from exc
        missing = [c for c in table.column_names if c not in data.column_names]
        if missing:
            raise FileRejectedError(f"contract column(s) missing for {table.key}: {', '.join(missing)}")
        if data.num_rows == 0:
            raise FileRejectedError("the file has no rows")
        return data.select(list(table.column_names))

    @staticmethod
    def _read_csv(path: Path, table: SourceTable) -> pa.Table:
        # Everything as undecoded bytes: the contract validation decodes (a value that is not UTF-8 rejects its
        # row, not the file), casts and names the field of any bad value.
        with path.open("rb") as f:  # only the header line is decoded here (values stay bytes, see below)
            first_line = f.readline().decode("utf-8-sig")  # spreadsheet exports often start with a BOM
        header = next(csv.reader([first_line]), None)
        if not header:
            raise FileRejectedError("empty CSV file (no header)")
        options = pacsv.ConvertOptions(
            column_types={name: pa.binary() for name in header},
            strings_can_be_null=True,
            null_values=[""],
            quoted_strings_can_be_null=False,  # `""` is an empty string, an empty field is NULL
        )
        return pacsv.read_csv(path, convert_options=options)

    @staticmethod
    def _read_jsonl(path: Path, table: SourceTable) -> pa.Table:
        rows = []
        with path.open("rb") as f:
            for number, raw_line in enumerate(f, start=1):
                # Bytes that are not UTF-8 stay bytes (surrogateescape), so the contract rejects that row by field.
                line = raw_line.decode("utf-8", "surrogateescape")
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise FileRejectedError(f"line {number}: invalid JSON ({exc.msg})") from exc
                if not isinstance(record, dict):
                    raise FileRejectedError(f"line {number}: expected a JSON object")
                rows.append({k: _json_value(v) for k, v in record.items()})
        present = {k for row in rows for k in row}
        data = apimap.to_arrow(table, rows)
        return data.select([c for c in data.column_names if c in present])

    @staticmethod
    def _read_parquet(path: Path, table: SourceTable) -> pa.Table:
        data = pq.read_table(path)
        for i, f in enumerate(data.schema):
            if pa.types.is_timestamp(f.type) and f.type.tz is not None:  # instants -> naive UTC, as the sources
                data = data.set_column(i, f.name, pc.cast(data.column(i), pa.timestamp("us")))
        return data

    # --- moving --------------------------------------------------------------------------------
    def archive_file(self, dropped: DroppedFile) -> Path:
        folder = self.archive / (dropped.table.raw_name if dropped.table else "_unknown")
        return _move(dropped.path, folder)

    def quarantine_file(self, dropped: DroppedFile, reason: str) -> Path:
        target = _move(dropped.path, self.quarantine)
        target.with_name(target.name + ".reason.txt").write_text(
            f"file: {dropped.name}\nsha256: {dropped.sha256}\nentity: "
            f"{dropped.table.key if dropped.table else '-'}\nreason: {reason}\n",
            encoding="utf-8",
        )
        return target

    def close(self) -> None:
        pass


def _json_value(value: object) -> object:
    """Nested JSON as text; text holding undecodable bytes back as those bytes."""
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "surrogateescape")
    return value


def _move(path: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    if target.exists():  # never overwrite an earlier drop of the same name
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
        target = folder / f"{path.stem}.{stamp}{path.suffix}"
    shutil.move(str(path), target)
    return target


# --- bookkeeping and the load loop ------------------------------------------------------------
def _ensure_drops_table(warehouse: WarehouseResource) -> None:
    with warehouse.connect() as session:
        session.execute(f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}")
        session.execute(
            f"CREATE TABLE IF NOT EXISTS {qualified(RAW_SCHEMA, FILE_DROPS_TABLE)} ("
            "file_name VARCHAR NOT NULL, sha256 VARCHAR NOT NULL, entity VARCHAR, status VARCHAR NOT NULL, "
            "rows_received BIGINT, rows_loaded BIGINT, rows_rejected BIGINT, reason VARCHAR, "
            "processed_at TIMESTAMP NOT NULL, run_id VARCHAR, PRIMARY KEY (file_name, sha256))"
        )


def _record(
    warehouse: WarehouseResource,
    dropped: DroppedFile,
    status: str,
    result: ExtractResult | None,
    reason: str | None,
    run_id: str | None,
) -> None:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    target = qualified(RAW_SCHEMA, FILE_DROPS_TABLE)
    with warehouse.connect() as session:
        session.execute(f"DELETE FROM {target} WHERE file_name = $1 AND sha256 = $2", [dropped.name, dropped.sha256])
        session.execute(
            f"INSERT INTO {target} (file_name, sha256, entity, status, rows_received, rows_loaded, rows_rejected, "
            "reason, processed_at, run_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            [
                dropped.name,
                dropped.sha256,
                dropped.table.key if dropped.table else None,
                status,
                result.rows_received if result else None,
                result.rows_loaded if result else None,
                result.rows_rejected if result else None,
                reason,
                now,
                run_id,
            ],
        )


def loaded_checksums(warehouse: WarehouseResource) -> set[tuple[str, str]]:
    _ensure_drops_table(warehouse)
    rows = warehouse.query(
        f"SELECT file_name, sha256 FROM {qualified(RAW_SCHEMA, FILE_DROPS_TABLE)} WHERE status = 'loaded'"
    )
    return {(r[0], r[1]) for r in rows}


def load_file_drops(
    warehouse: WarehouseResource,
    connector: FileDropConnector,
    tables: Iterable[SourceTable] | None = None,
    *,
    run_id: str | None = None,
) -> FileLoadReport:
    """Load every pending file (of `tables`, or all) once; archive loaded files, quarantine bad ones."""
    report = FileLoadReport()
    done = loaded_checksums(warehouse)
    for dropped in connector.pending(tables):
        if (dropped.name, dropped.sha256) in done:
            connector.archive_file(dropped)
            report.already_loaded.append(dropped)
            continue
        try:
            data = connector.read_file(dropped)
            assert dropped.table is not None
            result = load_batches(warehouse, dropped.table, data, source_label=connector.label, run_id=run_id)
        except (FileRejectedError, SchemaDriftError) as exc:
            reason = str(exc)
            connector.quarantine_file(dropped, reason)
            _record(warehouse, dropped, "quarantined", None, reason, run_id)
            report.quarantined.append((dropped, reason))
            continue
        result.notes.append(f"file {dropped.name} (sha256 {dropped.sha256[:12]}…)")
        _record(warehouse, dropped, "loaded", result, None, run_id)
        connector.archive_file(dropped)
        report.loaded.append((dropped, result))
    return report


def write_csv(table: pa.Table, path: Path) -> None:
    """Write an Arrow table as a CSV drop (timestamps ISO, NULL as empty) — used by tests and tools."""
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer, pacsv.WriteOptions(quoting_style="needed"))
    path.write_bytes(buffer.getvalue())
