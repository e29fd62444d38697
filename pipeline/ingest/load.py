"""Loading one file into PostgreSQL: `ingest_file`, one transaction per file.

Reading, cleaning and encoding run in a worker thread one batch ahead of the database writes,
so parsing overlaps with the server's COPY work. Positions go in with binary COPY:

* a day that has no partition yet is loaded into a fresh table without indexes; its unique
  (mmsi, ts) index is built once at the end and the table is attached as the day's partition
  (SHARE UPDATE EXCLUSIVE on `positions`, so readers are never blocked). A duplicate key that
  only shows when the index is built (the same fix in two batches of the file) makes the whole
  file start again in the indexed mode below;
* a day that already has a partition is written through `positions` under a savepoint per
  batch. If a fix is already there, the batch goes instead through a temporary staging table
  and `INSERT ... ON CONFLICT DO NOTHING`; every fix that did not go in becomes a reject:
  `duplicate` when the one in the table came from this same file, `duplicate_of_loaded` when
  it came from another file.

Anything the database refuses (a constraint, a trigger), an interruption or a read error rolls
the whole file back: nothing of it stays, and `ingested_files` does not list it.
"""

from __future__ import annotations

import dataclasses
import json
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from pipeline import db
from pipeline.errors import StraitwatchError
from pipeline.ingest import identity
from pipeline.ingest.clean import CleanConfig, clean
from pipeline.ingest.pgcopy import Column, encode
from pipeline.ingest.records import Batch
from pipeline.ingest.sniff import Detected, detect
from pipeline.ingest.source import BLOCK_BYTES, sha256_of

POSITION_COLUMNS = (
    Column("mmsi", "integer"),
    Column("ts", "timestamptz"),
    Column("lat", "double precision"),
    Column("lon", "double precision"),
    Column("sog", "real"),
    Column("cog", "real"),
    Column("heading", "smallint"),
    Column("nav_status", "smallint"),
    Column("file_id", "bigint"),
)
STAGE_COLUMNS = (*POSITION_COLUMNS, Column("line_no", "bigint"))
_COLS = sql.SQL(", ").join(sql.Identifier(c.name) for c in POSITION_COLUMNS)


@dataclass(frozen=True)
class IngestConfig:
    """Settings of `ingest_file`."""

    clean: CleanConfig = field(default_factory=CleanConfig)
    bulk_new_days: bool = True  # build a new day's index after its rows are in
    index_build_mem_mb: int = 256  # maintenance_work_mem for those index builds
    read_ahead_batches: int = 1  # batches read and cleaned ahead of the database writes
    batch_bytes: int = BLOCK_BYTES  # input read per batch (memory stays flat whatever the file)


@dataclass(frozen=True)
class IngestResult:
    """What happened to one file. read = loaded + rejected always holds."""

    file_id: int | None
    path: str
    sha256: str
    format: str
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    skipped: bool
    rejects_by_reason: dict[str, int]
    mapping: str | None = None
    positions_loaded: int = 0
    static_reports: int = 0  # loaded records that carried static or voyage data
    identity_rows: int = 0  # vessel_identity rows inserted or changed
    voyage_rows: int = 0  # voyage_reports rows inserted or changed
    seconds: float = 0.0
    # time span of the file's clean positions (None when skipped or when it had none): the
    # days a detection run after this load must cover
    first_ts: datetime | None = None
    last_ts: datetime | None = None


class _RestartIndexed(Exception):
    """A new day's index found a duplicate inside the file: load it again, indexes first."""


# --------------------------------------------------------------------------- reading ahead


@dataclass
class _Prepared:
    """One batch, ready for the database: only what the writes need is kept."""

    lines_read: int
    loaded_lines: int  # before the database has its say on duplicates of loaded fixes
    static_reports: int
    rejects: pd.DataFrame  # reader and cleaning rejects, one row per physical line
    days: dict[date, tuple[pd.DataFrame, bytes]]  # positions of each UTC day, COPY-encoded
    span: tuple[datetime, datetime] | None  # first and last position time of the batch
    lines_of: Callable[[pd.DataFrame], pd.DataFrame]  # refused records -> rejected lines


def _prepare(
    batches: Iterator[Batch],
    file_id: int,
    config: IngestConfig,
    histories: list[identity.Accumulator],
) -> Iterator[_Prepared]:
    """Clean, encode and fold static reports into `histories`, batch by batch (pure work,
    run ahead of the database writes)."""
    now = datetime.now(UTC)
    for batch in batches:
        cleaned = clean(batch.records, config.clean, now=now)
        for history in histories:
            history.add(cleaned.statics)
        positions = cleaned.positions
        positions["file_id"] = np.int64(file_id)
        days: dict[date, tuple[pd.DataFrame, bytes]] = {}
        span = None
        if len(positions):
            ts = positions["ts"]
            span = (ts.min().to_pydatetime(), ts.max().to_pydatetime())
            day_no = positions["ts"].to_numpy(dtype="datetime64[D]")
            unique = np.unique(day_no)
            for value in unique:
                part = positions if len(unique) == 1 else positions[day_no == value]
                days[value.item()] = (part, encode(part, POSITION_COLUMNS))
        rejects = pd.concat(
            [batch.rejects, batch.expand_rejects(cleaned.rejects)], ignore_index=True
        )
        light = Batch(
            batch.records.iloc[:0], batch.rejects.iloc[:0], batch.raw_text, batch.member_lines
        )
        yield _Prepared(
            lines_read=batch.lines_read,
            loaded_lines=cleaned.loaded_lines,
            static_reports=len(cleaned.statics),
            rejects=rejects,
            days=days,
            span=span,
            lines_of=light.expand_rejects,
        )


def _read_ahead(items: Iterator[_Prepared], depth: int) -> Iterator[_Prepared]:
    """Run `items` in a worker thread, `depth` items ahead; errors surface in the caller."""
    if depth <= 0:
        yield from items
        return
    box: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def work() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        box.put(item, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            box.put(done)
        except BaseException as exc:  # handed to the consumer, raised there
            box.put(exc)

    worker = threading.Thread(target=work, name="straitwatch-ingest-read", daemon=True)
    worker.start()
    try:
        while True:
            item = box.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():
            try:
                box.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.05)


# --------------------------------------------------------------------------- positions


@dataclass
class _Day:
    day: date
    table: str  # table the day's rows are written to
    fresh: bool  # a table made by this load, attached at the end
    indexed: bool  # has its unique (mmsi, ts) index


class _PositionWriter:
    def __init__(self, conn: psycopg.Connection, file_id: int, *, bulk: bool) -> None:
        self.conn = conn
        self.file_id = file_id
        self.bulk = bulk
        self.days: dict[date, _Day] = {}
        self.staging = False
        self.loaded = 0
        # user triggers must fire: then new days become partitions at once
        self.fresh_tables = db.scalar(
            conn,
            "SELECT NOT EXISTS (SELECT 1 FROM pg_trigger WHERE NOT tgisinternal "
            "AND tgrelid = 'straitwatch.positions'::regclass)",
        )

    def _day(self, day: date) -> _Day:
        if day in self.days:
            return self.days[day]
        name = f"positions_{day:%Y%m%d}"
        conn = self.conn
        exists = db.scalar(conn, "SELECT to_regclass(%s)", (f"{db.SCHEMA}.{name}",))
        if exists is None and self.fresh_tables:
            # same lock as straitwatch.ensure_positions_partition: one creator per day
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"straitwatch.{name}",))
            exists = db.scalar(conn, "SELECT to_regclass(%s)", (f"{db.SCHEMA}.{name}",))
        if exists is not None:
            target = _Day(day, f"{db.SCHEMA}.positions", fresh=False, indexed=True)
        elif not self.fresh_tables:
            db.ensure_position_partitions(conn, [day])
            target = _Day(day, f"{db.SCHEMA}.positions", fresh=False, indexed=True)
        else:
            lo, hi = _bounds(day)
            table = sql.Identifier(db.SCHEMA, name)
            conn.execute(
                sql.SQL(
                    "CREATE TABLE {t} (LIKE straitwatch.positions INCLUDING DEFAULTS "
                    "INCLUDING CONSTRAINTS)"
                ).format(t=table)
            )
            # lets ATTACH PARTITION skip scanning the rows to check the bounds
            conn.execute(
                sql.SQL(
                    "ALTER TABLE {t} ADD CONSTRAINT {c} CHECK (ts >= {lo} AND ts < {hi})"
                ).format(
                    t=table,
                    c=sql.Identifier(f"{name}_bounds"),
                    lo=sql.Literal(lo),
                    hi=sql.Literal(hi),
                )
            )
            if not self.bulk:
                self._build_index(name)
            target = _Day(day, f"{db.SCHEMA}.{name}", fresh=True, indexed=not self.bulk)
        self.days[day] = target
        return target

    def _build_index(self, name: str) -> None:
        self.conn.execute(
            sql.SQL("CREATE UNIQUE INDEX {i} ON {t} (mmsi, ts)").format(
                i=sql.Identifier(f"{name}_mmsi_ts_idx"), t=sql.Identifier(db.SCHEMA, name)
            )
        )

    def write(self, days: dict[date, tuple[pd.DataFrame, bytes]]) -> pd.DataFrame:
        """COPY each day's rows; returns the fixes that did not go in (line_no, reason, detail)."""
        refused = []
        for day, (frame, data) in days.items():
            target = self._day(day)
            if not target.indexed:
                self._copy(target.table, data)
                self.loaded += len(frame)
                continue
            try:
                with self.conn.transaction():
                    self._copy(target.table, data)
                self.loaded += len(frame)
            except psycopg.errors.UniqueViolation:
                refused.append(self._insert_staged(target.table, frame))
        if not refused:
            return pd.DataFrame(columns=["line_no", "reason", "detail"])
        return pd.concat(refused, ignore_index=True)

    def _copy(self, table: str, data: bytes) -> None:
        stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary)").format(
            sql.Identifier(*table.split(".")), _COLS
        )
        with self.conn.cursor() as cur, cur.copy(stmt) as copy:
            view = memoryview(data)
            for start in range(0, len(view), 8 << 20):
                copy.write(view[start : start + (8 << 20)])

    def _insert_staged(self, table: str, frame: pd.DataFrame) -> pd.DataFrame:
        conn = self.conn
        if not self.staging:
            conn.execute(
                "CREATE TEMP TABLE IF NOT EXISTS straitwatch_ingest_stage (mmsi integer, "
                "ts timestamptz, lat double precision, lon double precision, sog real, cog real, "
                "heading smallint, nav_status smallint, file_id bigint, line_no bigint) "
                "ON COMMIT DROP"
            )
            self.staging = True
        conn.execute("TRUNCATE straitwatch_ingest_stage")
        with (
            conn.cursor() as cur,
            cur.copy("COPY straitwatch_ingest_stage FROM STDIN (FORMAT binary)") as copy,
        ):
            copy.write(encode(frame, STAGE_COLUMNS))
        target = sql.Identifier(*table.split("."))
        rows = conn.execute(
            sql.SQL(
                "WITH ins AS (INSERT INTO {t} ({cols}) SELECT {cols} "
                "FROM straitwatch_ingest_stage ON CONFLICT (mmsi, ts) DO NOTHING "
                "RETURNING mmsi, ts) "
                "SELECT s.line_no, p.file_id FROM straitwatch_ingest_stage s "
                "LEFT JOIN ins ON ins.mmsi = s.mmsi AND ins.ts = s.ts "
                "LEFT JOIN {t} p ON p.mmsi = s.mmsi AND p.ts = s.ts "
                "WHERE ins.mmsi IS NULL"
            ).format(t=target, cols=_COLS)
        ).fetchall()
        self.loaded += len(frame) - len(rows)
        reasons, details = [], []
        for _, other in rows:
            if other == self.file_id:
                reasons.append("duplicate")
                details.append("same mmsi and time as a fix earlier in this file")
            else:
                reasons.append("duplicate_of_loaded")
                details.append(
                    f"already loaded from file {other}" if other else "loaded by another ingest"
                )
        return pd.DataFrame({"line_no": [r[0] for r in rows], "reason": reasons, "detail": details})

    def build_indexes(self, mem_mb: int) -> None:
        """Index the days loaded without one; a duplicate key means: restart indexed."""
        pending = [name for name, d in self._fresh() if not d.indexed]
        if not pending:
            return
        self.conn.execute(f"SET LOCAL maintenance_work_mem = '{int(mem_mb)}MB'")
        for name in pending:
            try:
                with self.conn.transaction():
                    self._build_index(name)
            except psycopg.errors.UniqueViolation as exc:
                raise _RestartIndexed(name) from exc

    def attach(self) -> None:
        for name, day in self._fresh():
            lo, hi = _bounds(day.day)
            table = sql.Identifier(db.SCHEMA, name)
            self.conn.execute(
                sql.SQL(
                    "ALTER TABLE straitwatch.positions ATTACH PARTITION {t} FOR VALUES "
                    "FROM ({lo}) TO ({hi})"
                ).format(t=table, lo=sql.Literal(lo), hi=sql.Literal(hi))
            )
            self.conn.execute(
                sql.SQL("ALTER TABLE {t} DROP CONSTRAINT {c}").format(
                    t=table, c=sql.Identifier(f"{name}_bounds")
                )
            )

    def _fresh(self) -> list[tuple[str, _Day]]:
        out = []
        for _, target in sorted(self.days.items()):
            if target.fresh:
                out.append((target.table.split(".", 1)[1], target))
        return out


def _bounds(day: date) -> tuple[datetime, datetime]:
    lo = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return lo, lo + timedelta(days=1)


# --------------------------------------------------------------------------- rejects


def _write_rejects(conn: psycopg.Connection, file_id: int, rejects: pd.DataFrame) -> None:
    if rejects.empty:
        return
    with (
        conn.cursor() as cur,
        cur.copy(
            "COPY straitwatch.rejected_records (file_id, line_no, raw, reason, detail) FROM STDIN"
        ) as copy,
    ):
        for line_no, raw, reason, detail in zip(
            rejects["line_no"].to_numpy(),
            rejects["raw"].to_numpy(),
            rejects["reason"].to_numpy(),
            rejects["detail"].to_numpy(),
            strict=True,
        ):
            copy.write_row(
                (
                    file_id,
                    int(line_no),
                    None if pd.isna(raw) else str(raw).replace("\x00", "\ufffd"),
                    str(reason),
                    None if pd.isna(detail) else str(detail).replace("\x00", "\ufffd"),
                )
            )


# --------------------------------------------------------------------------- entry point


def ingest_file(
    conn: psycopg.Connection,
    path: Path | str,
    *,
    fmt: str | None = None,
    mapping: Path | str | None = None,
    received_at: datetime | None = None,
    config: IngestConfig | None = None,
    reload: bool = False,
) -> IngestResult:
    """Load one AIS file (format sniffed unless `fmt` is given) and commit it.

    Commits whatever the caller had open first, then loads the file in its own transaction.
    A file whose sha256 is already in `ingested_files` is skipped (`skipped=True`, with the
    counts recorded then), unless `reload`: then its earlier load (positions, rejects, its
    `ingested_files` row) is removed and the file loaded again, in one transaction, e.g. with a
    `received_at` it lacked. `received_at` is the time of records that carry none. Raises
    StraitwatchError for an unreadable file, an unknown format, or a file the database refuses
    (then nothing of it is kept).
    """
    config = config or IngestConfig()
    path = Path(path)
    detected = detect(path, fmt, mapping)
    digest = sha256_of(path)
    if received_at is not None:
        stamp = pd.Timestamp(received_at)
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        received_at = stamp.to_pydatetime()
    conn.commit()
    done = _already_loaded(conn, digest)
    conn.commit()
    if done is not None and not reload:
        return dataclasses.replace(done, path=str(path))
    earlier = None if done is None else done.file_id
    started = time.perf_counter()
    try:
        try:
            result = _load(
                conn,
                detected,
                digest,
                received_at,
                config,
                bulk=config.bulk_new_days,
                replacing=earlier,
            )
        except _RestartIndexed:
            result = _load(
                conn, detected, digest, received_at, config, bulk=False, replacing=earlier
            )
    except psycopg.errors.UniqueViolation as exc:
        if "ingested_files_sha256_key" in str(exc):
            conn.rollback()
            skipped = _already_loaded(conn, digest)
            conn.commit()
            if skipped is not None:
                return dataclasses.replace(skipped, path=str(path))
        raise _refused(path, exc) from exc
    except (
        psycopg.errors.IntegrityError,
        psycopg.errors.DataError,
        psycopg.errors.RaiseException,
    ) as exc:
        raise _refused(path, exc) from exc
    if result is None:  # another process loaded (or reloaded, or removed) the same file meanwhile
        skipped = _already_loaded(conn, digest)
        conn.commit()
        if skipped is None:
            raise StraitwatchError(f"{path}: its earlier load was removed while it reloaded")
        return dataclasses.replace(skipped, path=str(path))
    return IngestResult(**{**result.__dict__, "seconds": time.perf_counter() - started})


def _refused(path: Path, exc: psycopg.Error) -> StraitwatchError:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return StraitwatchError(
        f"{path}: the database refused the file, nothing of it was loaded: {first}"
    )


def _already_loaded(conn: psycopg.Connection, digest: str) -> IngestResult | None:
    row = conn.execute(
        "SELECT file_id, path, format, rows_read, rows_loaded, rows_rejected, mapping, "
        "rejects_by_reason FROM straitwatch.ingested_files WHERE sha256 = %s",
        (digest,),
    ).fetchone()
    if row is None:
        return None
    file_id, path, fmt, read, loaded, rejected, mapping, reasons = row
    return IngestResult(
        file_id=file_id,
        path=path,
        sha256=digest,
        format=fmt,
        rows_read=read,
        rows_loaded=loaded,
        rows_rejected=rejected,
        skipped=True,
        rejects_by_reason=dict(reasons or {}),
        mapping=mapping,
    )


def _unload(
    conn: psycopg.Connection, file_id: int, digest: str, received_at: datetime | None
) -> bool:
    """Remove what one earlier load of a file wrote: its positions, its rejects and its
    ingested_files row. Static and voyage history stays: the reload reports the same values at
    the same times again, and merging a report already in the history changes nothing. False
    when that load is no longer there.

    So a reload must give every record the time it had: records that had a time keep it, and
    records that had none may get one, but a file loaded with a received_at cannot take
    another (its static history, and other files' fixes refused as duplicates of its fixes,
    are of the first time).
    """
    row = conn.execute(
        "SELECT positions_from, positions_to, rows_loaded, received_at "
        "FROM straitwatch.ingested_files WHERE file_id = %s AND sha256 = %s FOR UPDATE",
        (file_id, digest),
    ).fetchone()
    if row is None:
        return False
    lo, hi, loaded, earlier_at = row
    if earlier_at is not None and earlier_at != received_at:
        given = "none" if received_at is None else received_at.isoformat()
        raise StraitwatchError(
            f"file {file_id} was loaded with received_at {earlier_at.isoformat()}; a reload "
            f"cannot give its records another time ({given}): what was merged from them "
            "(identity and voyage history, other files' fixes refused as their duplicates) "
            "is of that time"
        )
    # only the partitions of the days it touched; every day when the span is unknown (loaded
    # before spans were recorded, or static reports only); none when it kept nothing
    if loaded > 0:
        conn.execute(
            "DELETE FROM straitwatch.positions WHERE file_id = %s "
            "AND ts BETWEEN coalesce(%s::timestamptz, '-infinity') "
            "AND coalesce(%s::timestamptz, 'infinity')",
            (file_id, lo, hi),
        )
    conn.execute("DELETE FROM straitwatch.ingested_files WHERE file_id = %s", (file_id,))
    return True


def _load(
    conn: psycopg.Connection,
    detected: Detected,
    digest: str,
    received_at: datetime | None,
    config: IngestConfig,
    *,
    bulk: bool,
    replacing: int | None = None,
) -> IngestResult | None:
    path = detected.source.path
    with conn.transaction():
        if replacing is not None and not _unload(conn, replacing, digest, received_at):
            return None  # another process reloaded or removed it meanwhile
        row = conn.execute(
            "INSERT INTO straitwatch.ingested_files (path, sha256, format, rows_read, "
            "rows_loaded, rows_rejected, mapping, received_at) VALUES (%s, %s, %s, 0, 0, 0, "
            "%s, %s) ON CONFLICT (sha256) DO NOTHING RETURNING file_id",
            (str(path.resolve()), digest, detected.fmt, detected.mapping_name, received_at),
        ).fetchone()
        if row is None:
            return None
        file_id = int(row[0])
        writer = _PositionWriter(conn, file_id, bulk=bulk)
        ids = identity.Accumulator(identity.IDENTITY, file_id)
        voyages = identity.Accumulator(identity.VOYAGE, file_id)
        reasons: Counter[str] = Counter()
        read = loaded = static_reports = 0
        first_ts: datetime | None = None
        last_ts: datetime | None = None
        batches = detected.iter_batches(received_at, batch_bytes=config.batch_bytes)
        prepared = _prepare(batches, file_id, config, [ids, voyages])
        for item in _read_ahead(prepared, config.read_ahead_batches):
            read += item.lines_read
            loaded += item.loaded_lines
            static_reports += item.static_reports
            if item.span is not None:
                first_ts = item.span[0] if first_ts is None else min(first_ts, item.span[0])
                last_ts = item.span[1] if last_ts is None else max(last_ts, item.span[1])
            rejects = item.rejects
            conflicts = writer.write(item.days)
            if len(conflicts):
                # their static data, if any, still counts: it is the report already loaded
                # from the other file, at the same instant
                lost = item.lines_of(conflicts)
                loaded -= len(lost)
                rejects = pd.concat([rejects, lost], ignore_index=True)
            _write_rejects(conn, file_id, rejects)
            reasons.update(rejects["reason"].astype(str).tolist())
        rejected = sum(reasons.values())
        if read != loaded + rejected:  # a bug, never the data: refuse rather than record it
            raise StraitwatchError(
                f"{path}: internal count error: read {read} != loaded {loaded} "
                f"+ rejected {rejected}"
            )
        writer.build_indexes(config.index_build_mem_mb)
        id_stats = identity.merge_history(conn, identity.IDENTITY, ids.obs)
        voyage_stats = identity.merge_history(conn, identity.VOYAGE, voyages.obs)
        writer.attach()
        if replacing is not None:  # history rows first reported by the earlier load
            for table in ("vessel_identity", "voyage_reports"):
                conn.execute(
                    f"UPDATE straitwatch.{table} SET file_id = %s WHERE file_id = %s",
                    (file_id, replacing),
                )
        by_reason = dict(sorted(reasons.items()))
        conn.execute(
            "UPDATE straitwatch.ingested_files SET rows_read = %s, rows_loaded = %s, "
            "rows_rejected = %s, rejects_by_reason = %s, positions_from = %s, positions_to = %s, "
            "loaded_at = now() WHERE file_id = %s",
            (read, loaded, rejected, json.dumps(by_reason), first_ts, last_ts, file_id),
        )
    return IngestResult(
        file_id=file_id,
        path=str(path),
        sha256=digest,
        format=detected.fmt,
        rows_read=read,
        rows_loaded=loaded,
        rows_rejected=rejected,
        skipped=False,
        rejects_by_reason=by_reason,
        mapping=detected.mapping_name,
        positions_loaded=writer.loaded,
        static_reports=static_reports,
        identity_rows=id_stats.inserted + id_stats.updated,
        voyage_rows=voyage_stats.inserted + voyage_stats.updated,
        first_ts=first_ts,
        last_ts=last_ts,
    )


__all__ = ["IngestConfig", "IngestResult", "ingest_file"]
