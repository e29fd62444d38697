"""Glue between the Airflow DAGs in dags/ and the library: connection, inbox, windows, checks.

The DAG files import this module at parse time, so its top level stays light: the standard
library and `airflow.sdk` only. Everything heavy (psycopg, pandas, the pipeline stages) is
imported inside the functions that the tasks call.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, is_dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset, RetryAction, RetryDecision, RetryPolicy, task

if TYPE_CHECKING:
    import psycopg

CONN_ID = "straitwatch_db"

# Assets chain the DAGs. Their names and URIs must never change once deployed: Airflow keys
# asset history on them.
REFERENCE = Asset(name="straitwatch.reference", uri="straitwatch://warehouse/reference")
POSITIONS = Asset(name="straitwatch.positions", uri="straitwatch://warehouse/positions")
EVENTS = Asset(name="straitwatch.events", uri="straitwatch://warehouse/events")
REPORTS = Asset(name="straitwatch.reports", uri="straitwatch://warehouse/reports")
MATCHES = Asset(name="straitwatch.matches", uri="straitwatch://warehouse/departure_matches")

# The DAGs' start_date. Airflow creates no task for a run dated before it, so it predates
# any AIS data (carriage became mandatory 2002-2004): a backfill may reach back to any date.
EARLIEST_DATA = datetime(2000, 1, 1, tzinfo=UTC)

# The verdict vocabulary of the design notes (and of departure_matches' CHECK constraint).
VERDICTS = (
    "confirmed",
    "date_mismatch",
    "contradicted",
    "no_ais_coverage",
    "vessel_not_found",
    "ambiguous",
)

# Inbox layout under the inbox root: new files arrive in <kind>/, are moved to
# done/<kind>/<day>/ once loaded (or found already loaded) and to failed/<kind>/<day>/ with a
# `.error` note when the file itself is bad.
AIS_KIND = "ais"
REPORTS_KIND = "reports"
_UNFINISHED_SUFFIXES = (".part", ".partial", ".tmp", ".crdownload", ".filepart")
ERROR_NOTE_SUFFIX = ".error"
ARTICLE_META_SUFFIX = ".json"
# `NAME.mapping.toml` beside a CSV or Parquet file NAME: its column mapping (`ingest --mapping`).
MAPPING_SUFFIX = ".mapping.toml"
# `NAME.received_at` beside an AIS file NAME: an ISO 8601 time for its records that carry none,
# e.g. a receiver log without tag blocks (`ingest --received-at`). Without it they are refused
# (no_timestamp), as on the command line: one guessed instant for a whole log would make its
# fixes of each vessel duplicates of one another.
RECEIVED_AT_SUFFIX = ".received_at"
COMPANION_SUFFIXES = (MAPPING_SUFFIX, RECEIVED_AT_SUFFIX)


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class TaskSettings:
    """How straitwatch tasks retry and how many files an ingest run loads at once; read from
    the environment when the DAG files are parsed."""

    retries: int = 4
    retry_delay_s: float = 30.0
    retry_backoff_factor: float = 2.0
    max_retry_delay_s: float = 1800.0
    # Files loaded at once by one ingest run: each holds a batch of a file in memory and a
    # connection, and they compete for the same disks.
    ingest_concurrency: int = 4

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TaskSettings:
        env = os.environ if environ is None else environ
        default = cls()
        return cls(
            retries=int(env.get("STRAITWATCH_TASK_RETRIES", default.retries)),
            retry_delay_s=float(env.get("STRAITWATCH_RETRY_DELAY_S", default.retry_delay_s)),
            retry_backoff_factor=default.retry_backoff_factor,
            max_retry_delay_s=float(
                env.get("STRAITWATCH_MAX_RETRY_DELAY_S", default.max_retry_delay_s)
            ),
            ingest_concurrency=int(
                env.get("STRAITWATCH_INGEST_CONCURRENCY", default.ingest_concurrency)
            ),
        )


@dataclass(frozen=True)
class InboxSettings:
    """Where new files arrive, and how old a file must be before it is taken."""

    root: Path
    min_age_s: float = 60.0

    def folder(self, kind: str) -> Path:
        return self.root / kind


def _setting(variable: str, env_name: str, default: str | None = None) -> str | None:
    """An Airflow Variable if set, else the environment, else the default (run time only)."""
    from airflow.sdk import Variable

    value = Variable.get(variable, default=None)
    if value in (None, ""):
        value = os.environ.get(env_name) or default
    return value


def inbox_settings() -> InboxSettings:
    """The inbox from the Variable `straitwatch_inbox` or $STRAITWATCH_INBOX (task run time)."""
    from pipeline.errors import StraitwatchError

    root = _setting("straitwatch_inbox", "STRAITWATCH_INBOX")
    if not root:
        raise StraitwatchError(
            "no inbox configured: set the Airflow Variable straitwatch_inbox "
            "or the environment variable STRAITWATCH_INBOX"
        )
    min_age = _setting("straitwatch_inbox_min_age_s", "STRAITWATCH_INBOX_MIN_AGE_S", "60")
    try:
        min_age_s = float(min_age)  # type: ignore[arg-type]
    except ValueError as exc:
        raise StraitwatchError(f"straitwatch_inbox_min_age_s is not a number: {min_age!r}") from exc
    return InboxSettings(root=Path(root), min_age_s=min_age_s)


# --------------------------------------------------------------------------- retries


def is_transient_database_error(exc: BaseException) -> bool:
    """Whether `exc`, or an exception it was raised from, says the database was unreachable or
    asked for a retry (lost connection, admin shutdown, serialization failure, deadlock).

    Only modules already imported are consulted, so this never imports a driver itself.
    """
    transient: list[type[BaseException]] = []
    if (psycopg := sys.modules.get("psycopg")) is not None:
        transient.append(psycopg.OperationalError)
    if (psycopg2 := sys.modules.get("psycopg2")) is not None:
        transient.append(psycopg2.OperationalError)
    if (sa_exc := sys.modules.get("sqlalchemy.exc")) is not None:
        transient.extend([sa_exc.OperationalError, sa_exc.DisconnectionError])
    if not transient:
        return False
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, tuple(transient)):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


class TransientDatabaseErrors(RetryPolicy):
    """Retry with the task's exponential back-off when the database failed transiently; fail
    at once on anything else (a bad file, a failed data-quality check, a bug), since
    retrying those only repeats the same failure."""

    def evaluate(
        self,
        exception: BaseException,
        try_number: int,
        max_tries: int,
        context: Any = None,
    ) -> RetryDecision:
        if is_transient_database_error(exception):
            return RetryDecision(
                action=RetryAction.RETRY,
                reason=f"transient database error ({type(exception).__name__}), backing off",
            )
        return RetryDecision.fail(
            reason=f"{type(exception).__name__} is not a transient database error"
        )

    def serialize(self) -> dict[str, Any]:
        return {"__type": "pipeline.orchestration.TransientDatabaseErrors"}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> TransientDatabaseErrors:
        return cls()


def task_defaults(settings: TaskSettings | None = None) -> dict[str, Any]:
    """`default_args` shared by every straitwatch DAG."""
    settings = settings or TaskSettings.from_env()
    return {
        "owner": "straitwatch",
        "retries": settings.retries,
        "retry_delay": timedelta(seconds=settings.retry_delay_s),
        "retry_exponential_backoff": settings.retry_backoff_factor,
        "max_retry_delay": timedelta(seconds=settings.max_retry_delay_s),
        "retry_policy": TransientDatabaseErrors(),
    }


# --------------------------------------------------------------------------- shared tasks


def publish_task(
    asset: Asset,
    *,
    extra: Callable[[dict], dict] | None = None,
    nothing_new: Callable[[dict], bool] | None = None,
) -> Any:
    """The `publish` task of a DAG: emits `asset` (after the run's checks, downstream of it),
    its event extra made from the run's summary; skipped, so emitting nothing, when
    `nothing_new(summary)` says there is nothing to announce."""

    @task(task_id="publish", outlets=[asset])
    def publish(summary: dict, *, outlet_events: Any = None) -> dict:
        from airflow.sdk.exceptions import AirflowSkipException

        if nothing_new is not None and nothing_new(summary):
            raise AirflowSkipException(f"nothing new: {asset.name} not announced")
        outlet_events[asset].extra = extra(summary) if extra else summary
        return summary

    return publish


def failed_files_task(kind: str) -> Any:
    """The `report_failed_files` task: fails the run, naming the inbox files whose mapped task
    failed (their files loaded or not, the others' results stand)."""

    @task(task_id="report_failed_files", trigger_rule="one_failed")
    def report_failed_files(files: list[str], done: list[dict]) -> None:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(failed_files_message(kind, files, done))

    return report_failed_files


# --------------------------------------------------------------------------- warehouse


def warehouse_conninfo(conn_id: str = CONN_ID) -> str:
    """libpq connection string of the Airflow Connection `conn_id` (a postgres connection).

    Connection extras that are libpq parameters (sslmode, sslrootcert, connect_timeout,
    options, ...) are passed on; provider-only extras (cursor, iam, ...) are not.
    """
    import psycopg
    from airflow.sdk import Connection

    from pipeline.errors import StraitwatchError

    conn = Connection.get(conn_id)
    if conn.conn_type not in ("postgres", "postgresql"):
        raise StraitwatchError(
            f"Airflow connection {conn_id!r} has type {conn.conn_type!r}, expected postgres"
        )
    libpq_keywords = {opt.keyword.decode() for opt in psycopg.pq.Conninfo.get_defaults()}
    params: dict[str, Any] = {
        "host": conn.host,
        "port": conn.port,
        "user": conn.login,
        "password": conn.password,
        "dbname": conn.schema,
    }
    params.update({k: v for k, v in conn.extra_dejson.items() if k in libpq_keywords})
    return psycopg.conninfo.make_conninfo(
        **{k: v for k, v in params.items() if v not in (None, "")}
    )


def airflow_connection_uri(conninfo: str) -> str:
    """The `AIRFLOW_CONN_STRAITWATCH_DB` value (an Airflow URI) for a libpq URI or key=value
    string, e.g. the output of `straitwatch db url`."""
    import psycopg
    from airflow.sdk import Connection

    parts = psycopg.conninfo.conninfo_to_dict(conninfo)
    core = {
        k: None if (v := parts.pop(k, None)) in (None, "") else str(v)
        for k in ("host", "port", "user", "password", "dbname")
    }
    conn = Connection(
        conn_id=CONN_ID,
        conn_type="postgres",
        host=core["host"],
        port=int(core["port"]) if core["port"] else None,
        login=core["user"],
        password=core["password"],
        schema=core["dbname"],
        extra=json.dumps(parts) if parts else None,
    )
    return conn.get_uri()


@contextmanager
def warehouse(conn_id: str = CONN_ID, *, upgrade: bool = True) -> Iterator[psycopg.Connection]:
    """An open warehouse connection, by default with the schema brought up to date first (as
    every CLI command does), so a stage never runs against a half-migrated warehouse.

    Like the CLI's `with connection:` it commits what is still open when the block ends (the
    stages leave their last transaction to the caller) and rolls back on an exception.
    """
    from pipeline import db

    with db.connect(warehouse_conninfo(conn_id)) as conn:
        if upgrade:
            db.upgrade(conn)
        yield conn


def jsonable(value: Any) -> Any:
    """A result object as plain JSON types for XCom and asset-event extras."""
    if is_dataclass(value) and not isinstance(value, type):
        return jsonable(asdict(value))
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date | Path):
        return str(value)
    if hasattr(value, "item") and callable(value.item):  # NumPy scalar
        return value.item()
    return value


# --------------------------------------------------------------------------- inbox


def pending_files(folder: Path, *, min_age_s: float, now: datetime | None = None) -> list[Path]:
    """Files waiting in `folder` (recursively), oldest name first.

    Hidden files, files still being written (`.part`, `.tmp`, ...), error notes and files
    modified less than `min_age_s` seconds ago are left for a later run.
    """
    if not folder.is_dir():
        return []
    cutoff = (now or datetime.now(UTC)).timestamp() - min_age_s
    found = []
    for path in folder.rglob("*"):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        if path.name.endswith((*_UNFINISHED_SUFFIXES, ERROR_NOTE_SUFFIX)):
            continue
        if path.stat().st_mtime > cutoff:
            continue
        found.append(path)
    return sorted(found)


def _free_path(path: Path) -> Path:
    """`path`, or `path` with a numeric suffix when a file of that name already exists."""
    if not path.exists():
        return path
    n = 1
    while (candidate := path.with_name(f"{path.stem}.{n}{path.suffix}")).exists():
        n += 1
    return candidate


def archive(
    path: Path,
    inbox: InboxSettings,
    kind: str,
    outcome: str,
    *,
    note: str | None = None,
    day: date | None = None,
) -> Path:
    """Move an inbox file to done/ or failed/ (same relative path, under the day), with a
    `.error` note beside a failed file. Returns the new path."""
    rel = path.relative_to(inbox.folder(kind))
    day = day or datetime.now(UTC).date()
    target = _free_path(inbox.root / outcome / kind / day.isoformat() / rel)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(path), target)
    if note is not None:
        target.with_name(target.name + ERROR_NOTE_SUFFIX).write_text(note + "\n", encoding="utf-8")
    return target


# --------------------------------------------------------------------------- time windows


@dataclass(frozen=True)
class Window:
    """A half-open UTC time window [start, end) and why it was chosen."""

    start: datetime
    end: datetime
    source: str  # "conf", "assets" or "interval"

    def as_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "source": self.source}


def _as_utc(value: Any, what: str) -> datetime:
    from pipeline.errors import StraitwatchError

    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError as exc:
            raise StraitwatchError(f"{what} is not an ISO 8601 date or time: {value!r}") from exc
    # Airflow hands out pendulum datetimes; plain datetimes keep XCom and SQL text simple.
    moment = datetime.fromtimestamp(moment.timestamp(), UTC) if moment.tzinfo else moment
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _floor_day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def resolve_window(
    *,
    conf_start: Any = None,
    conf_end: Any = None,
    event_extras: Iterable[Mapping[str, Any] | None] = (),
    interval_start: Any = None,
    interval_end: Any = None,
) -> Window:
    """The window a detect run works on, in this order of precedence:

    1. `start` / `end` given in the run's conf (a manual run over any span);
    2. the span of the positions named by the triggering asset events (ingest runs put the
       `first_ts` / `last_ts` of what they loaded in their event extra), widened to whole UTC
       days, so that a late file re-detects exactly the days it touched;
    3. the run's data interval (scheduled and backfill runs: one day).
    """
    from pipeline.errors import StraitwatchError

    if conf_start is not None or conf_end is not None:
        if conf_start is None or conf_end is None:
            raise StraitwatchError("give both start and end in the run conf, or neither")
        start, end = _as_utc(conf_start, "conf start"), _as_utc(conf_end, "conf end")
        source = "conf"
    else:
        extras = [e for e in event_extras if e]
        spans = [
            (e["first_ts"], e["last_ts"]) for e in extras if e.get("first_ts") and e.get("last_ts")
        ]
        if spans:
            first = min(_as_utc(s, "asset event first_ts") for s, _ in spans)
            last = max(_as_utc(e, "asset event last_ts") for _, e in spans)
            start, end = _floor_day(first), _floor_day(last) + timedelta(days=1)
            source = "assets"
        elif interval_start is not None and interval_end is not None:
            start = _as_utc(interval_start, "data interval start")
            end = _as_utc(interval_end, "data interval end")
            source = "interval"
        else:
            raise StraitwatchError(
                "no window: the run has no data interval, no start/end in its conf and its "
                "asset events carry no time span"
            )
    if start >= end:
        raise StraitwatchError(
            f"window start {start.isoformat()} is not before end {end.isoformat()}"
        )
    return Window(start=start, end=end, source=source)


def span_of(results: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Summary of ingest results: files, rows and the time span of the loaded positions."""
    results = [r for r in results if r]
    loaded = [r for r in results if not r.get("skipped") and r.get("rows_loaded")]
    firsts = [_as_utc(r["first_ts"], "first_ts") for r in loaded if r.get("first_ts")]
    lasts = [_as_utc(r["last_ts"], "last_ts") for r in loaded if r.get("last_ts")]
    return {
        "files": len(results),
        "files_loaded": len(loaded),
        "files_skipped": sum(1 for r in results if r.get("skipped")),
        "file_ids": sorted(r["file_id"] for r in results if r.get("file_id") is not None),
        "rows_loaded": sum(int(r.get("rows_loaded") or 0) for r in loaded),
        "rows_rejected": sum(int(r.get("rows_rejected") or 0) for r in loaded),
        "first_ts": min(firsts).isoformat() if firsts else None,
        "last_ts": max(lasts).isoformat() if lasts else None,
    }


def pg_array(values: Iterable[Any]) -> str:
    """A PostgreSQL array literal (`{1,2,3}`) of integers, for templated check SQL."""
    return "{" + ",".join(str(int(v)) for v in values) + "}"


# --------------------------------------------------------------------------- stage runners
# Each is what one task does: open the warehouse, call the stage's I/O entry point, return a
# JSON summary for XCom. A bad input file raises AirflowFailException (no retry) after the
# file is moved to failed/; database errors propagate and are retried by the task policy.


def _bad_input(exc: BaseException) -> bool:
    from pipeline.errors import StraitwatchError

    return isinstance(exc, StraitwatchError) and not is_transient_database_error(exc)


def run_migrations() -> dict[str, list[str]]:
    """Apply pending sql/ migrations; returns those applied now and all applied so far."""
    from pipeline import db

    with warehouse(upgrade=False) as conn:
        applied_now = [m.path.name for m in db.upgrade(conn)]
        return {
            "applied_now": applied_now,
            "applied": [f"{v:04d}_{n}" for v, n in db.applied_versions(conn)],
        }


def run_load_reference() -> dict[str, int]:
    """Load chokepoints, gate lines and ports from seeds/ (idempotent)."""
    from pipeline.geo.reference import load_reference

    with warehouse() as conn:
        return jsonable(load_reference(conn))


def list_ais_files() -> list[str]:
    """AIS files waiting in the inbox; a file's column mapping travels with it."""
    inbox = inbox_settings()
    files = pending_files(inbox.folder(AIS_KIND), min_age_s=inbox.min_age_s)
    return [str(p) for p in files if not p.name.endswith(COMPANION_SUFFIXES)]


def display_name(path: str) -> str:
    """How a mapped task names its inbox file in the UI."""
    return Path(path).name


def ingest_inbox_file(path: str) -> dict[str, Any]:
    """Load one AIS file from the inbox and move it aside; the result as JSON for XCom."""
    from airflow.sdk.exceptions import AirflowFailException

    from pipeline.ingest.load import ingest_file

    inbox = inbox_settings()
    source = Path(path)
    if not source.exists():
        # An earlier try loaded and moved it, then died before reporting: nothing to do.
        return {"path": path, "missing": True}
    mapping, stamp = (source.with_name(source.name + s) for s in COMPANION_SUFFIXES)
    companions = [p for p in (mapping, stamp) if p.exists()]
    try:
        received_at = _received_at(stamp) if stamp.exists() else None
        with warehouse() as conn:
            result = ingest_file(
                conn,
                source,
                mapping=mapping if mapping.exists() else None,
                received_at=received_at,
            )
    except Exception as exc:
        if not _bad_input(exc):
            raise
        moved = _archive_with(source, companions, inbox, "failed", note=f"{exc}")
        raise AirflowFailException(f"{source.name}: {exc} (moved to {moved})") from exc
    moved = _archive_with(source, companions, inbox, "done")
    summary = jsonable(result)
    summary.update(path=path, archived_to=str(moved))
    if result.skipped and received_at is not None:
        # the DAG never reloads: say so rather than let the companion look applied
        summary["note"] = (
            f"already loaded as file {result.file_id}: its {stamp.name} was not applied "
            "(`straitwatch ingest --reload --received-at T` loads it again with that time)"
        )
        logging.getLogger(__name__).warning("%s: %s", source.name, summary["note"])
    return summary


def _archive_with(
    source: Path, companions: list[Path], inbox: InboxSettings, outcome: str, **kw: Any
) -> Path:
    """Archive an AIS file and its companions (`NAME.mapping.toml`, `NAME.received_at`) beside
    it, named after it even when it was renamed to stay clear of an earlier file."""
    moved = archive(source, inbox, AIS_KIND, outcome, **kw)
    for extra in companions:
        target = _free_path(moved.with_name(moved.name + extra.name[len(source.name) :]))
        shutil.move(str(extra), target)
    return moved


def _received_at(stamp: Path) -> datetime:
    """The time in a `NAME.received_at` companion file."""
    from pipeline.errors import StraitwatchError
    from pipeline.ingest.commands import parse_time

    text = stamp.read_text(encoding="utf-8", errors="replace").strip()
    try:
        return parse_time(text)
    except StraitwatchError as exc:
        raise StraitwatchError(f"{stamp.name}: {text!r} is not an ISO 8601 time") from exc


def failed_files_message(
    kind: str, files: Iterable[str], done: Iterable[Mapping[str, Any] | None]
) -> str:
    """Why a run failed: which of its inbox files have no result (their tasks failed)."""
    finished = {r["path"] for r in done if r and r.get("path")}
    failed = sorted(display_name(f) for f in files if f not in finished)
    return (
        f"{len(failed)} {kind} file(s) failed: {', '.join(failed)}. A bad file is moved to "
        f"failed/{kind}/ with a .error note; any other failure leaves it in the inbox for the "
        "next run. See the failed tasks' logs."
    )


def summarize_ingest(results: Iterable[Mapping[str, Any] | None]) -> dict[str, Any]:
    """What one ingest run loaded (failed files are absent from `results`). Skips the rest of
    the run (checks, announcement) when no file was loaded or recognised."""
    from airflow.sdk.exceptions import AirflowSkipException

    summary = span_of(r for r in results if r and not r.get("missing"))
    if not summary["file_ids"]:
        raise AirflowSkipException("no inbox file was loaded: nothing to check or announce")
    summary["file_ids_pg"] = pg_array(summary["file_ids"])
    return summary


def positions_event_extra(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The extra of a `straitwatch.positions` event: the files and the span they loaded."""
    keys = ("file_ids", "rows_loaded", "first_ts", "last_ts")
    return {k: summary[k] for k in keys}


def detect_window_for_run(
    *,
    params: Mapping[str, Any] | None,
    triggering_asset_events: Mapping[Any, Iterable[Any]] | None,
    data_interval_start: Any,
    data_interval_end: Any,
) -> dict[str, str]:
    """The window of one straitwatch_detect run (see `resolve_window`), as JSON."""
    params = params or {}
    extras = [
        getattr(event, "extra", None)
        for events in (triggering_asset_events or {}).values()
        for event in events
    ]
    window = resolve_window(
        conf_start=params.get("start"),
        conf_end=params.get("end"),
        event_extras=extras,
        interval_start=data_interval_start,
        interval_end=data_interval_end,
    )
    return window.as_dict()


def run_detect(window: Mapping[str, str]) -> dict[str, Any]:
    """Detect gaps, crossings and port calls in the window (replacing its earlier events)."""
    from pipeline.geo.detect import detect_window

    start = _as_utc(window["start"], "window start")
    end = _as_utc(window["end"], "window end")
    with warehouse() as conn:
        result = detect_window(conn, start, end)
    summary = jsonable(result)
    if not isinstance(summary, dict):
        summary = {"result": summary}
    summary.update(start=start.isoformat(), end=end.isoformat())
    return summary


def _article_meta(article: Path) -> tuple[date, str]:
    """Publication day and source of an article, from the JSON file beside it."""
    from pipeline.errors import StraitwatchError

    meta_path = article.with_suffix(ARTICLE_META_SUFFIX)
    if not meta_path.exists():
        raise StraitwatchError(
            f"{article.name}: no {meta_path.name} beside it giving "
            '{"published": "YYYY-MM-DD", "source": "..."}'
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        published = date.fromisoformat(str(meta["published"])[:10])
    except (ValueError, KeyError, TypeError) as exc:
        raise StraitwatchError(
            f"{meta_path.name}: expected {{'published': 'YYYY-MM-DD', 'source': ...}}: {exc}"
        ) from exc
    return published, str(meta.get("source") or article.stem)


def list_report_files() -> list[str]:
    """Report CSVs and articles waiting in the inbox; an article's JSON travels with it."""
    inbox = inbox_settings()
    files = pending_files(inbox.folder(REPORTS_KIND), min_age_s=inbox.min_age_s)
    return [str(p) for p in files if p.suffix.lower() != ARTICLE_META_SUFFIX]


def import_report_file(path: str) -> dict[str, Any]:
    """Import one report CSV or news article from the inbox and move it aside."""
    from airflow.sdk.exceptions import AirflowFailException

    from pipeline.errors import StraitwatchError
    from pipeline.reports.claims import extract_claims, import_reports, read_text_file

    inbox = inbox_settings()
    source = Path(path)
    if not source.exists():
        return {"path": path, "missing": True}
    companions = []
    result: dict[str, Any]
    try:
        suffix = source.suffix.lower()
        if suffix == ".csv":
            with warehouse() as conn:
                result = {"reports": import_reports(conn, source)}
        elif suffix == ".txt":
            published, source_name = _article_meta(source)
            companions.append(source.with_suffix(ARTICLE_META_SUFFIX))
            text = read_text_file(source)
            with warehouse() as conn:
                ids = extract_claims(conn, text, published, source_name)
            result = {"reports": len(ids), "report_ids": ids}
        else:
            raise StraitwatchError(
                f"{source.name}: not a report file (expected a .csv of reports, or an article "
                f".txt with its {ARTICLE_META_SUFFIX})"
            )
    except Exception as exc:
        if not _bad_input(exc):
            raise
        moved = archive(source, inbox, REPORTS_KIND, "failed", note=f"{exc}")
        for extra in companions:
            if extra.exists():
                archive(extra, inbox, REPORTS_KIND, "failed")
        raise AirflowFailException(f"{source.name}: {exc} (moved to {moved})") from exc
    moved = archive(source, inbox, REPORTS_KIND, "done")
    for extra in companions:
        archive(extra, inbox, REPORTS_KIND, "done")
    return {"path": path, "archived_to": str(moved), **result}


def run_match(imported: Iterable[Mapping[str, Any] | None], *, run_type: Any) -> dict[str, Any]:
    """Match every report; skipped on a scheduled run that found no new report file."""
    from airflow.sdk.exceptions import AirflowSkipException

    from pipeline.reports.match import match_reports

    new_files = [r for r in imported if r and not r.get("missing")]
    if str(getattr(run_type, "value", run_type)) == "scheduled" and not new_files:
        raise AirflowSkipException("no new reports and no new events: verdicts stand")
    with warehouse() as conn:
        (reports,) = conn.execute(
            "SELECT count(*) FROM straitwatch.reported_departures"
        ).fetchone() or (0,)
        if not reports:
            raise AirflowSkipException("no reports in the warehouse: nothing to match")
        verdicts = match_reports(conn)
    counts = verdicts["verdict"].value_counts().sort_index() if len(verdicts) else {}
    return {
        "new_files": len(new_files),
        "reports": int(verdicts["report_id"].nunique()) if len(verdicts) else 0,
        "rows": len(verdicts),
        "verdicts": {str(k): int(v) for k, v in dict(counts).items()},
    }


# --------------------------------------------------------------------------- quality checks
# SQL for the common-sql check operators. `{start}` / `{end}` / `{files}` are filled with
# Jinja expressions by the DAG files, then rendered by Airflow at run time.

COUNTS_ADD_UP = "rows_read = rows_loaded + rows_rejected"

CHECK_REJECTS_RECORDED = """
SELECT count(*) = 0 AS every_rejected_row_is_recorded
FROM straitwatch.ingested_files f
WHERE {files}
  AND f.rows_rejected <> (SELECT count(*) FROM straitwatch.rejected_records r
                          WHERE r.file_id = f.file_id)
"""

CHECK_CROSSINGS = """
SELECT
  count(*) FILTER (
    WHERE NOT EXISTS (SELECT 1 FROM straitwatch.positions p
                      WHERE p.mmsi = c.mmsi AND p.ts = c.prev_ts)
       OR NOT EXISTS (SELECT 1 FROM straitwatch.positions p
                      WHERE p.mmsi = c.mmsi AND p.ts = c.next_ts)
  ) = 0 AS every_crossing_has_positions_around_it,
  count(*) FILTER (
    WHERE c.direction NOT IN (k.first_direction, k.second_direction)
  ) = 0 AS every_direction_in_vocabulary
FROM straitwatch.chokepoint_crossings c
JOIN straitwatch.chokepoints k USING (chokepoint_id)
WHERE c.crossed_at >= '{start}' AND c.crossed_at < '{end}'
"""

CHECK_EVERY_CHOKEPOINT_HAS_GATES = """
SELECT
  (SELECT count(*) > 0 FROM straitwatch.chokepoints) AS chokepoints_loaded,
  (SELECT count(*) > 0 FROM straitwatch.ports) AS ports_loaded,
  NOT EXISTS (
    SELECT 1 FROM straitwatch.chokepoints c
    WHERE NOT EXISTS (SELECT 1 FROM straitwatch.chokepoint_gates g
                      WHERE g.chokepoint_id = c.chokepoint_id)
  ) AS every_chokepoint_has_a_gate,
  NOT EXISTS (
    SELECT 1 FROM straitwatch.chokepoint_gates
    GROUP BY chokepoint_id
    HAVING min(seq) <> 1 OR max(seq) <> count(*) OR count(DISTINCT seq) <> count(*)
  ) AS gates_numbered_one_to_n,
  NOT EXISTS (
    SELECT 1 FROM straitwatch.chokepoints WHERE first_direction = second_direction
  ) AS directions_differ
"""

_VERDICT_LIST = ", ".join(f"'{v}'" for v in VERDICTS)
VERDICT_CHECKS = {
    "verdict_in_vocabulary": {"check_statement": f"verdict IN ({_VERDICT_LIST})"},
    "vessel_named_when_seen": {
        "check_statement": "mmsi IS NOT NULL "
        "OR verdict NOT IN ('confirmed', 'date_mismatch', 'contradicted')"
    },
    "no_vessel_when_not_found": {
        "check_statement": "verdict <> 'vessel_not_found' OR mmsi IS NULL"
    },
}

CHECK_EVERY_REPORT_HAS_A_VERDICT = """
SELECT count(*) = 0 AS every_report_has_a_verdict
FROM straitwatch.reported_departures r
WHERE NOT EXISTS (SELECT 1 FROM straitwatch.departure_matches m
                  WHERE m.report_id = r.report_id)
"""
