"""Whether this database has the PostGIS geometry for QGIS, and what is missing if not."""

from __future__ import annotations

import psycopg

GEOMETRY_ENABLED = "enabled"


def geometry_status(conn: psycopg.Connection) -> str:
    """`enabled`, or one sentence on what is missing and how to add it (from the database)."""
    row = conn.execute("SELECT straitwatch.geometry_status()").fetchone()
    return str(row[0]) if row else "geometry status unknown: run `straitwatch db upgrade`"


def geometry_note(conn: psycopg.Connection) -> str | None:
    """A line for the CLI when geometry is missing (None when everything is there).

    The analyst commands print it (and `straitwatch db status` may), so a user of the embedded
    PostgreSQL learns why QGIS finds no layers without reading the migrations.
    """
    status = geometry_status(conn)
    return None if status == GEOMETRY_ENABLED else f"note: {status}"
