"""The read-only analyst role: SELECT on the straitwatch schema, now and for future tables."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from pipeline.db import SCHEMA
from pipeline.errors import StraitwatchError

# Unquoted-identifier style names keep the role easy to type in psql, QGIS and pg_hba.conf.
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_RESERVED = {"public", "none", "current_user", "session_user", "current_role"}


@dataclass(frozen=True)
class GrantResult:
    role: str
    created: bool
    login: bool
    relations: int  # tables and views in the schema the role can now read
    default_owners: tuple[str, ...]  # roles whose future tables the role will be able to read
    warnings: tuple[str, ...] = field(default_factory=tuple)


def _row(conn: psycopg.Connection, query: str, params: tuple[object, ...]) -> tuple[object, ...]:
    """The single row an aggregate or catalogue query returns."""
    row = conn.execute(query, params).fetchone()
    if row is None:  # pragma: no cover - these queries always return a row
        raise StraitwatchError(f"no row from: {query.split()[0:4]}")
    return tuple(row)


def validate_role_name(role: str) -> str:
    if not _ROLE_NAME.match(role) or role in _RESERVED or role.startswith("pg_"):
        raise StraitwatchError(
            f"role name {role!r} is not usable: expected lower-case letters, digits and _ "
            "(at most 63, not starting with a digit or pg_)"
        )
    return role


def grant_analyst(conn: psycopg.Connection, role: str, *, login: bool = False) -> GrantResult:
    """Create `role` if missing and give it read-only access to the straitwatch schema.

    Grants USAGE on the schema, SELECT on every table and view in it, and default privileges
    so that tables and views created later by the schema's owners are readable too. Nothing
    else is granted; an existing role keeps what it had (extra powers are reported as
    warnings, not revoked). A new role is NOLOGIN unless `login`; `login` also turns LOGIN on
    for an existing role. Idempotent. Commits.
    """
    validate_role_name(role)
    ident = sql.Identifier(role)
    schema = sql.Identifier(SCHEMA)
    with conn.transaction():
        existing = conn.execute(
            "SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", (role,)
        ).fetchone()
        created = existing is None
        try:
            if created:
                conn.execute(
                    sql.SQL("CREATE ROLE {} " + ("LOGIN" if login else "NOLOGIN")).format(ident)
                )
            elif login and existing is not None and not existing[0]:
                conn.execute(sql.SQL("ALTER ROLE {} LOGIN").format(ident))
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, ident))
            conn.execute(
                sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(schema, ident)
            )
            owners, foreign = _creating_roles(conn)
            for owner in owners:
                conn.execute(
                    sql.SQL(
                        "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} "
                        "GRANT SELECT ON TABLES TO {}"
                    ).format(sql.Identifier(owner), schema, ident)
                )
        except psycopg.errors.InsufficientPrivilege as exc:
            raise StraitwatchError(
                f"cannot set up role {role}: {exc.diag.message_primary or exc} "
                "(run grant-analyst as the schema owner or a role with CREATEROLE)"
            ) from exc
        (relations,) = _row(
            conn,
            """SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f')""",
            (SCHEMA,),
        )
        (can_login,) = _row(conn, "SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", (role,))
        warnings = [
            f"tables that role {owner} creates later will not be readable by {role} until "
            f"grant-analyst is run again by {owner} or a superuser"
            for owner in foreign
        ]
        warnings += _excess_privileges(conn, role)
    conn.commit()
    return GrantResult(
        role=role,
        created=created,
        login=bool(can_login),
        relations=int(str(relations)),
        default_owners=tuple(owners),
        warnings=tuple(warnings),
    )


def _creating_roles(conn: psycopg.Connection) -> tuple[list[str], list[str]]:
    """Roles that create tables in the schema (this one, the schema owner, owners of its
    relations), split into those whose default privileges we may set and those we may not."""
    rows = conn.execute(
        """SELECT DISTINCT r.rolname, pg_has_role(current_user, r.oid, 'MEMBER') AS ours
           FROM pg_roles r
           WHERE r.rolname = current_user
              OR r.oid = (SELECT nspowner FROM pg_namespace WHERE nspname = %(s)s)
              OR r.oid IN (SELECT c.relowner FROM pg_class c
                           JOIN pg_namespace n ON n.oid = c.relnamespace
                           WHERE n.nspname = %(s)s AND c.relkind IN ('r', 'p', 'v', 'm', 'f'))
           ORDER BY r.rolname""",
        {"s": SCHEMA},
    ).fetchall()
    return [name for name, ours in rows if ours], [name for name, ours in rows if not ours]


def _excess_privileges(conn: psycopg.Connection, role: str) -> list[str]:
    """Powers beyond reading that `role` already had (from before, or through membership)."""
    out: list[str] = []
    attrs = _row(
        conn,
        """SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls
           FROM pg_roles WHERE rolname = %s""",
        (role,),
    )
    names = ("SUPERUSER", "CREATEROLE", "CREATEDB", "BYPASSRLS")
    extra = [name for name, on in zip(names, attrs, strict=True) if on]
    if extra:
        out.append(f"role {role} has {', '.join(extra)}: it is not read-only")
    if _row(conn, "SELECT has_schema_privilege(%s, %s, 'CREATE')", (role, SCHEMA))[0]:
        out.append(f"role {role} may create objects in schema {SCHEMA}")
    (writable,) = _row(
        conn,
        """SELECT string_agg(c.relname, ', ' ORDER BY c.relname)
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = %s AND c.relkind IN ('r', 'p')
             AND has_table_privilege(%s, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')""",
        (SCHEMA, role),
    )
    if writable:
        out.append(f"role {role} may write to {writable}")
    return out
