"""Security baseline on PostgreSQL: a read-only `bi_reader` role that sees the BI contract (marts, ml) and nothing else.

    BI_READER_PASSWORD=... python -m orchestration.security create-bi-reader [--role bi_reader]

- LOGIN role without any other attribute; CONNECT on the warehouse database.
- USAGE on schemas marts and ml, SELECT on every table/view in them, and default privileges so tables that dbt and
  the ML assets create later (dbt recreates tables on every build) are readable too.
- Nothing on raw, staging, intermediate or reports (privileges left over from earlier grants are revoked): raw and
  staging hold e-mail addresses; the marts carry only e-mail domains.
- The password comes from an environment variable (Dagster EnvVar), is sent to the server as a bound parameter of
  the role statement (psycopg), and is never printed.

Running it again is safe: the role is created or its password reset, and the grants are re-applied.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import dagster as dg
import psycopg
from psycopg import sql

from orchestration.settings import PostgresParams, Settings, get_settings

BI_READER_ROLE = "bi_reader"
BI_READER_PASSWORD_ENV = "BI_READER_PASSWORD"
READABLE_SCHEMAS = ("marts", "ml")
PRIVATE_SCHEMAS = ("raw", "staging", "intermediate", "reports")


def bi_reader_statements(
    dbname: str, writer: str, role: str = BI_READER_ROLE, private_schemas: Sequence[str] = PRIVATE_SCHEMAS
) -> list[sql.Composed]:
    """Grants and revokes for `role` (after the role exists). `writer` owns the tables (dbt's and the loaders' user);
    `private_schemas`: the existing ones among PRIVATE_SCHEMAS (nothing to revoke in a schema not created yet)."""
    r, w = sql.Identifier(role), sql.Identifier(writer)
    statements = [sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(dbname), r)]
    for name in READABLE_SCHEMAS:
        s = sql.Identifier(name)
        statements += [
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(s, w),
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(s, r),
            sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(s, r),
            sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT SELECT ON TABLES TO {}").format(w, s, r),
        ]
    for name in private_schemas:
        s = sql.Identifier(name)
        statements += [
            sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(s, r),
            sql.SQL("REVOKE ALL ON SCHEMA {} FROM {}").format(s, r),
            sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} REVOKE ALL ON TABLES FROM {}").format(w, s, r),
        ]
    return statements


def _existing_schemas(conn: psycopg.Connection, names: Sequence[str]) -> set[str]:
    rows = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", [list(names)]).fetchall()
    return {r[0] for r in rows}


def create_bi_reader(postgres: PostgresParams, password: str, role: str = BI_READER_ROLE) -> None:
    """Create (or update) the read-only role in the warehouse database `postgres` points at (as its user)."""
    if not password:
        raise ValueError(f"the {role} role needs a password ({BI_READER_PASSWORD_ENV})")
    with psycopg.connect(postgres.conninfo, autocommit=True) as conn, conn.transaction():
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
        verb = "ALTER" if exists else "CREATE"
        attributes = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION"
        # DDL takes no bind parameters: the password is quoted by psycopg as a literal, never formatted by hand.
        conn.execute(
            sql.SQL(verb + " ROLE {} " + attributes + " PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)
            )
        )
        private = [s for s in PRIVATE_SCHEMAS if s in _existing_schemas(conn, PRIVATE_SCHEMAS)]
        for statement in bi_reader_statements(postgres.dbname, postgres.user, role, private):
            conn.execute(statement)


def create_bi_reader_from_env(settings: Settings, role: str = BI_READER_ROLE) -> None:
    if settings.warehouse != "postgres":
        raise SystemExit("the bi_reader role exists on PostgreSQL only (WAREHOUSE=postgres); DuckDB has no roles")
    create_bi_reader(settings.postgres, dg.EnvVar(BI_READER_PASSWORD_ENV).get_value() or "", role)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.security", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-bi-reader", help="create or update the read-only BI role (PostgreSQL)")
    create.add_argument("--role", default=BI_READER_ROLE)
    args = parser.parse_args(argv)
    if args.command == "create-bi-reader":
        create_bi_reader_from_env(get_settings(), args.role)
        print(f"role {args.role}: SELECT on schemas {', '.join(READABLE_SCHEMAS)}; no access to the others")
    return 0


if __name__ == "__main__":
    sys.exit(main())
