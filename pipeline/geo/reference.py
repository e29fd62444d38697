"""Load chokepoints, gate lines and ports from seeds/ into their tables, idempotently.

The seeds are read and validated first (pure, `load_gates` and `read_ports`); then every table
is brought to exactly the seed's rows in one transaction: new rows inserted, changed rows
updated, unchanged rows left alone (a rerun writes nothing), rows gone from the seed deleted,
except chokepoints and ports that detected events still reference (chokepoint_crossings,
port_calls), which are kept and counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import psycopg
from psycopg import sql

from pipeline import db
from pipeline.config import SEEDS_DIR
from pipeline.errors import StraitwatchError
from pipeline.geo.geofences import (
    CHOKEPOINT_CORE_COLUMNS,
    GEOFENCES_DIRNAME,
    chokepoint_ports,
    load_gates,
)
from pipeline.geo.ports import SKIP_REASONS, read_ports

_LOCK_KEY = 0x5752_4546  # advisory lock: one reference load at a time

CHOKEPOINT_TABLE_COLUMNS = [
    *CHOKEPOINT_CORE_COLUMNS,
    "portwatch_id",
    "side_a",
    "side_b",
    "ref_note",
]
GATE_TABLE_COLUMNS = [
    "chokepoint_id",
    "gate",
    "seq",
    "wkt",
    "side_a",
    "side_b",
    "from_place",
    "to_place",
    "islands",
]
PORT_TABLE_COLUMNS = [
    "port_id",
    "name",
    "alternate_names",
    "country",
    "lat",
    "lon",
    "radius_nm",
    "harbor_size",
    "wpi_number",
    "country_name",
    "harbor_type",
    "radius_source",
    "position_source",
    "locode_aliases",
]
ARRAY_COLUMNS = {"aliases", "islands", "alternate_names", "locode_aliases"}


@dataclass(frozen=True)
class _Table:
    name: str
    key: tuple[str, ...]
    columns: list[str]
    # (table, column) pairs whose rows keep a row of this table alive
    referenced_by: tuple[tuple[str, str], ...] = ()


CHOKEPOINTS = _Table(
    "chokepoints",
    ("chokepoint_id",),
    CHOKEPOINT_TABLE_COLUMNS,
    (("chokepoint_crossings", "chokepoint_id"),),
)
GATES = _Table("chokepoint_gates", ("chokepoint_id", "gate"), GATE_TABLE_COLUMNS)
PORTS = _Table("ports", ("port_id",), PORT_TABLE_COLUMNS, (("port_calls", "port_id"),))


def pg_array(values: Iterable[str]) -> str:
    """A PostgreSQL array literal of text values, every element quoted."""
    quoted = ('"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
    return "{" + ",".join(quoted) + "}"


def _for_copy(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    out = frame[list(columns)].copy()
    for col in ARRAY_COLUMNS.intersection(columns):
        out[col] = out[col].map(pg_array)
    return out


def _ident(name: str) -> sql.Identifier:
    return sql.Identifier(db.SCHEMA, name)


def _counts(cursor: psycopg.Cursor) -> tuple[int, ...]:
    row = cursor.fetchone()
    if row is None:  # pragma: no cover - an aggregate always returns a row
        raise RuntimeError("a count query returned no row")
    return tuple(int(v) for v in row)


def _stage(table: _Table) -> str:
    return f"_seed_{table.name}"


def upsert_table(conn: psycopg.Connection, table: _Table, frame: pd.DataFrame) -> tuple[int, ...]:
    """Stage `frame` in a temporary table and upsert it, writing only rows that differ.

    Returns (inserted, updated). The staged rows stay until `delete_gone` drops them.
    """
    stage = sql.Identifier(_stage(table))
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in table.columns)
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(stage))
    conn.execute(
        sql.SQL("CREATE TEMP TABLE {} AS SELECT {} FROM {} WITH NO DATA").format(
            stage, cols, _ident(table.name)
        )
    )
    db.copy_frame(conn, _stage(table), _for_copy(frame, table.columns))
    values = [c for c in table.columns if c not in table.key]
    upsert = sql.SQL(
        "WITH w AS (INSERT INTO {table} AS t ({cols}) SELECT {cols} FROM {stage} "
        "ON CONFLICT ({key}) DO UPDATE SET {sets} WHERE ({old}) IS DISTINCT FROM ({new}) "
        "RETURNING (xmax = 0) AS inserted) "
        "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM w"
    ).format(
        table=_ident(table.name),
        cols=cols,
        stage=stage,
        key=sql.SQL(", ").join(sql.Identifier(c) for c in table.key),
        sets=sql.SQL(", ").join(
            sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in values
        ),
        old=sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in values),
        new=sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in values),
    )
    return _counts(conn.execute(upsert))


def delete_gone(conn: psycopg.Connection, table: _Table) -> tuple[int, ...]:
    """Delete rows not in the staged seed unless events reference them; drop the stage.

    Returns (deleted, kept).
    """
    stage = sql.Identifier(_stage(table))
    match = sql.SQL(" AND ").join(
        sql.SQL("s.{c} = t.{c}").format(c=sql.Identifier(c)) for c in table.key
    )
    gone = sql.SQL("NOT EXISTS (SELECT 1 FROM {} AS s WHERE {})").format(stage, match)
    alive = sql.SQL(" OR ").join(
        sql.SQL("EXISTS (SELECT 1 FROM {} AS r WHERE r.{} = t.{})").format(
            _ident(ref_table), sql.Identifier(ref_col), sql.Identifier(table.key[0])
        )
        for ref_table, ref_col in table.referenced_by
    )
    deleted = conn.execute(
        sql.SQL("DELETE FROM {} AS t WHERE {} AND NOT ({})").format(
            _ident(table.name), gone, alive if table.referenced_by else sql.SQL("false")
        )
    ).rowcount
    (kept,) = _counts(
        conn.execute(
            sql.SQL("SELECT count(*) FROM {} AS t WHERE {}").format(_ident(table.name), gone)
        )
    )
    conn.execute(sql.SQL("DROP TABLE {}").format(stage))
    return deleted, kept


def _check_port_mentions(chokepoints: pd.DataFrame, ports: pd.DataFrame) -> None:
    mentions = chokepoint_ports(chokepoints)
    unknown = mentions.loc[~mentions["port_id"].isin(ports["port_id"])]
    if not unknown.empty:
        row = unknown.iloc[0]
        raise StraitwatchError(
            f"seeds/{GEOFENCES_DIRNAME}/{row['chokepoint_id']}.geojson: property "
            f"'ports_{row['position']}': {row['port_id']} is not a port of seeds/ports"
        )


def load_reference(conn: psycopg.Connection, seeds_dir: Path = SEEDS_DIR) -> dict[str, int]:
    """Upsert chokepoints, gates and ports from the seeds; return counts.

    Idempotent: a rerun on unchanged seeds inserts, updates and deletes nothing. Atomic: one
    transaction, committed unless the caller has one open (then a savepoint within it). Keys:
    `chokepoints`, `gates`, `ports` (rows in the seeds), `wpi_rows`, `ports_skipped_<reason>`
    (WPI rows that are not ports, by reason, see pipeline.geo.ports.SKIP_REASONS), and per
    table `<table>_inserted`, `_updated`, `_deleted`, `_kept` (gone from the seed but still
    referenced by events, so not deleted).
    """
    chokepoints, gates = load_gates(seeds_dir)
    port_seed = read_ports(seeds_dir)
    ports = port_seed.ports
    _check_port_mentions(chokepoints, ports)
    counts: dict[str, int] = {
        "chokepoints": len(chokepoints),
        "gates": len(gates),
        "ports": len(ports),
        "wpi_rows": port_seed.rows_read,
    }
    skipped = port_seed.skipped_counts()
    counts.update({f"ports_skipped_{r}": skipped[r] for r in SKIP_REASONS})
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        # Gates go between the two halves of the chokepoints' sync: new chokepoints exist
        # before their gates arrive, and stale gates are counted before a chokepoint goes.
        upserted = {"chokepoints": upsert_table(conn, CHOKEPOINTS, chokepoints)}
        upserted["gates"] = upsert_table(conn, GATES, gates)
        removed = {"gates": delete_gone(conn, GATES)}
        removed["chokepoints"] = delete_gone(conn, CHOKEPOINTS)
        upserted["ports"] = upsert_table(conn, PORTS, ports)
        removed["ports"] = delete_gone(conn, PORTS)
    for name in ("chokepoints", "gates", "ports"):
        (inserted, updated), (deleted, kept) = upserted[name], removed[name]
        counts.update(
            {
                f"{name}_inserted": inserted,
                f"{name}_updated": updated,
                f"{name}_deleted": deleted,
                f"{name}_kept": kept,
            }
        )
    return counts
