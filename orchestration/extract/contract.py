"""The source contract (schemas.py) checked row by row, vectorised in DuckDB over Arrow data.

`validation_sql` turns a relation of source rows into typed rows plus, per row, either a
`_record_hash` (good row) or a reject reason naming the field: "field status: unknown enum code 9",
"field startTime: cannot parse '2024-13-01' as timestamp", "field id: required value missing",
"field amount_cents: negative value -500", "field name: invalid UTF-8 in 'caf\\xE9'" (undecoded file text).
The hash is computed here, in DuckDB, so it is the same whichever warehouse engine stores it. It is
DuckDB's 64-bit `hash()` of the typed values (hex text), not md5 of a text rendering: md5 cost more
than the whole native bulk load of the rows (bench/README.md). Collisions only matter between two
versions of the same key (p ~ 2^-64). A DuckDB release that changed `hash()` would make re-read rows
look changed once (rewritten with a new `_loaded_at`), never lose or duplicate data.
"""

from __future__ import annotations

import pyarrow as pa

from orchestration.extract.tables import sql_type
from orchestration.resources.warehouse import quote
from orchestration.sources.schemas import Column, SourceTable

# Columns the validation adds to the source columns (all NULL for good rows except the hash).
RECORD_HASH = "_record_hash"
REJECT_FIELD = "_reject_field"
REJECT_REASON = "_reject_reason"
RECORD_KEY = "_record_key"
PAYLOAD = "_payload"
_TYPE_WORDS = {
    "string": "text",
    "int32": "integer",
    "int64": "bigint",
    "double": "number",
    "bool": "boolean",
    "date32[day]": "date",
    "timestamp[us]": "timestamp",
}


class SchemaDriftError(RuntimeError):
    """A contract column is missing at the source (renamed or dropped)."""


def check_columns(table: SourceTable, present: list[str], source_label: str) -> list[str]:
    """Raise on missing contract columns; return the unexpected extra columns (reported, not loaded)."""
    missing = [c for c in table.column_names if c not in present]
    if missing:
        raise SchemaDriftError(
            f"schema drift in source {table.system!r} ({source_label}), entity {table.name!r}: "
            f"contract column(s) {', '.join(repr(c) for c in missing)} missing at the source "
            f"(found: {', '.join(present)})"
        )
    return [c for c in present if c not in table.column_names]


def _literal(value: object) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(value)


def _is_binary(source_type: pa.DataType | None) -> bool:
    return source_type is not None and (pa.types.is_binary(source_type) or pa.types.is_large_binary(source_type))


def _typed_expr(column: Column, source_type: pa.DataType | None) -> str:
    src = quote(column.name)
    if source_type is not None and source_type.equals(column.type):
        return src
    if pa.types.is_null(source_type) if source_type is not None else False:
        return f"CAST(NULL AS {sql_type(column.type, 'duckdb')})"
    if _is_binary(source_type):  # undecoded text (CSV drops): NULL unless valid UTF-8, then cast like text
        src = f"TRY(decode({src}))"
        if pa.types.is_string(column.type):
            return src
    return f"TRY_CAST({src} AS {sql_type(column.type, 'duckdb')})"


def _checks(table: SourceTable, column: Column, source_type: pa.DataType | None) -> list[tuple[str, str]]:
    """(condition that breaks the contract, reason expression) for one column, in reporting order."""
    src, typed = quote(column.name), quote("__t_" + column.name)
    label = f"field {column.name}: "
    checks: list[tuple[str, str]] = []
    if _is_binary(source_type):
        checks.append(
            (
                f"({src} IS NOT NULL AND TRY(decode({src})) IS NULL)",
                # BLOB -> VARCHAR renders invalid bytes as \\xNN escapes: the reason itself stays valid text
                _literal(label + "invalid UTF-8 in '") + f" || CAST({src} AS VARCHAR) || " + _literal("'"),
            )
        )
    if not (source_type is not None and source_type.equals(column.type)):
        checks.append(
            (
                f"({src} IS NOT NULL AND {typed} IS NULL)",
                f"{_literal(label + 'cannot parse ')} || '''' || CAST({src} AS VARCHAR) || ''' as "
                f"{_TYPE_WORDS[str(column.type)]}'",
            )
        )
    if column.required:
        empty_key = f" OR {typed} = ''" if column.name in table.primary_key and pa.types.is_string(column.type) else ""
        checks.append((f"({src} IS NULL{empty_key})", _literal(label + "required value missing")))
    if column.nonnegative:
        negative = f"{_literal(label + 'negative value ')} || CAST({typed} AS VARCHAR)"
        checks.append((f"({typed} IS NOT NULL AND {typed} < 0)", negative))
    if column.enum is not None:
        codes = ", ".join(_literal(code) for code in column.enum)
        checks.append(
            (
                f"({typed} IS NOT NULL AND {typed} NOT IN ({codes}))",
                f"{_literal(label + 'unknown enum code ')} || CAST({typed} AS VARCHAR)",
            )
        )
    return checks


def _shown(name: str, source_type: pa.DataType | None) -> str:
    """The source value as a reject record shows it; undecodable bytes (CSV drops) as \\xNN escapes."""
    if _is_binary(source_type):
        return f"coalesce(TRY(decode({quote(name)})), CAST({quote(name)} AS VARCHAR))"
    return quote(name)


def validation_sql(table: SourceTable, relation: str, source_schema: pa.Schema) -> str:
    """SELECT over `relation` (source rows by column name) giving the stage rows of `table`."""
    types = {f.name: f.type for f in source_schema}
    typed_cols = ", ".join(f"{_typed_expr(c, types.get(c.name))} AS {quote('__t_' + c.name)}" for c in table.columns)
    checks = [(c, cond, reason) for c in table.columns for cond, reason in _checks(table, c, types.get(c.name))]
    # coalesce: a check that evaluates to NULL must not leave a row neither good (hashed) nor rejected
    bad = f"coalesce({' OR '.join(cond for _, cond, _ in checks) or 'FALSE'}, FALSE)"
    field_case = " ".join(f"WHEN {cond} THEN {_literal(c.name)}" for c, cond, _ in checks)
    reason_case = " ".join(f"WHEN {cond} THEN {reason}" for _, cond, reason in checks)
    typed_values = ", ".join(quote("__t_" + c.name) for c in table.columns)
    key = " || '|' || ".join(f"coalesce(CAST({_shown(k, types.get(k))} AS VARCHAR), '')" for k in table.primary_key)
    payload = ", ".join(f"{quote(c.name)} := {_shown(c.name, types.get(c.name))}" for c in table.columns)
    outputs = ", ".join(f"{quote('__t_' + c.name)} AS {quote(c.name)}" for c in table.columns)
    return f"""
        SELECT {outputs},
            CASE WHEN NOT ({bad}) THEN lpad(to_hex(hash({typed_values})), 16, '0') END AS {RECORD_HASH},
            CASE WHEN {bad} THEN (CASE {field_case} END) END AS {REJECT_FIELD},
            CASE WHEN {bad} THEN (CASE {reason_case} END) END AS {REJECT_REASON},
            CASE WHEN {bad} THEN {key} END AS {RECORD_KEY},
            CASE WHEN {bad} THEN CAST(to_json(struct_pack({payload})) AS VARCHAR) END AS {PAYLOAD}
        FROM (SELECT *, {typed_cols} FROM {relation}) AS __typed
    """
