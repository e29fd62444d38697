"""Claims in: reports CSV (`import-reports`), news text (`extract-claims`) -> reported_departures.

Both write through `store_claims`, an upsert on report_id: a rerun with the same input leaves the
table as it was; a report whose content changed replaces its row and loses its (now stale)
verdicts in departure_matches. Report ids of article claims are a hash of source, publication
day, vessel name and the claim's sentences, so re-extracting an article does not duplicate.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import psycopg

from pipeline.errors import StraitwatchError
from pipeline.reports.article import PHRASE_FIELDS, parse_article
from pipeline.reports.gazetteer import Gazetteer, load_gazetteer
from pipeline.reports.names import normalise_name
from pipeline.reports.routes import implied_direction
from pipeline.vessels import SHIP_MMSI_MAX, SHIP_MMSI_MIN, imo_is_valid, normalise_imo

CSV_COLUMNS = [
    "report_id",
    "source",
    "published_at",
    "vessel_name",
    "imo",
    "mmsi",
    "departure_port",
    "departed_after",
    "departed_before",
    "via_chokepoint",
    "via_date",
    "via_direction",
    "destination_port",
    "claim_text",
]
OPTIONAL_CSV_COLUMNS = ["vessel_kind", "vessel_flag"]
VESSEL_KINDS = ("cargo", "tanker", "passenger", "fishing", "military", "merchant")
STORED_COLUMNS = [
    "report_id",
    "source",
    "published_at",
    "vessel_name",
    "imo",
    "mmsi",
    "departure_port_id",
    "departed_after",
    "departed_before",
    "via_chokepoint_id",
    "via_date",
    "via_direction",
    "destination_port_id",
    "claim_text",
    "vessel_kind",
    "vessel_flag",
    "via_date_phrase",
    "via_direction_basis",
    "phrases",
    "origin",
]
MAX_FIELD_CHARS = 20_000
_REPORT_ID_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-")


# ----------------------------------------------------------------------------- storing


def _clean(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, float) and pd.isna(value):
        return None
    if value is pd.NaT or (not isinstance(value, str | dict | list) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def _clean_text(value: object) -> str | None:
    value = _clean(value)
    return None if value is None else str(value)


def store_claims(conn: psycopg.Connection, claims: pd.DataFrame) -> list[str]:
    """Upsert claims (STORED_COLUMNS) into reported_departures; returns their report ids.

    Verdicts of reports whose content changed are deleted (they described the old claim).
    Atomic: commits unless the caller has a transaction open.
    """
    frame = claims.reindex(columns=STORED_COLUMNS).drop_duplicates("report_id", keep="last")
    if frame.empty:
        return []
    cols = ", ".join(STORED_COLUMNS)
    placeholders = ", ".join("%s::jsonb" if c == "phrases" else "%s" for c in STORED_COLUMNS)
    compared = [c for c in STORED_COLUMNS if c != "report_id"]
    rows = [
        tuple(
            json.dumps(v or {}, ensure_ascii=False) if c == "phrases" else _clean(v)
            for c, v in zip(STORED_COLUMNS, rec, strict=True)
        )
        for rec in frame.itertuples(index=False, name=None)
    ]
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS _incoming_claims "
            "(LIKE straitwatch.reported_departures INCLUDING DEFAULTS)"
        )
        cur.execute("TRUNCATE _incoming_claims")
        cur.executemany(f"INSERT INTO _incoming_claims ({cols}) VALUES ({placeholders})", rows)
        cur.execute(
            f"""
            WITH changed AS (
                SELECT i.report_id FROM _incoming_claims i
                JOIN straitwatch.reported_departures r USING (report_id)
                WHERE ({", ".join(f"r.{c}" for c in compared)})
                      IS DISTINCT FROM ({", ".join(f"i.{c}" for c in compared)})
            )
            DELETE FROM straitwatch.departure_matches
            WHERE report_id IN (SELECT report_id FROM changed)
            """
        )
        cur.execute(
            f"""
            INSERT INTO straitwatch.reported_departures ({cols})
            SELECT {cols} FROM _incoming_claims
            ON CONFLICT (report_id) DO UPDATE SET
                {", ".join(f"{c} = EXCLUDED.{c}" for c in compared)},
                imported_at = now()
            WHERE ({", ".join(f"reported_departures.{c}" for c in compared)})
                  IS DISTINCT FROM ({", ".join(f"EXCLUDED.{c}" for c in compared)})
            """
        )
        cur.execute("TRUNCATE _incoming_claims")
    return frame["report_id"].tolist()


def _require_reference(gaz: Gazetteer) -> None:
    if gaz.ports.empty and gaz.chokepoints.empty:
        raise StraitwatchError(
            "the ports and chokepoints tables are empty: run `straitwatch load-reference` first"
        )


# ----------------------------------------------------------------------------- articles


def article_report_id(source: str, published: date, vessel_name: str, claim_text: str) -> str:
    key = "\x1f".join([source, published.isoformat(), normalise_name(vessel_name), claim_text])
    return "art-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]


def phrases_of(row: pd.Series) -> dict:
    """The phrases a claim's fields were read from, with their sentence numbers."""
    out = {
        field: row[col]
        for field, col in PHRASE_FIELDS.items()
        if col in row.index and isinstance(row[col], str) and row[col]
    }
    if isinstance(row.get("sentence_numbers"), str):
        out["sentences"] = [int(n) for n in row["sentence_numbers"].split(",") if n]
    return out


def extract_claims(conn: psycopg.Connection, text: str, published: date, source: str) -> list[str]:
    """Read vessel claims from news text into reported_departures; returns their report ids."""
    if not isinstance(text, str):
        raise StraitwatchError("article text must be str (decode the file first)")
    gaz = load_gazetteer(conn)
    _require_reference(gaz)
    claims = parse_article(text, published, gaz)
    if claims.empty:
        return []
    claims = claims.assign(
        source=source,
        origin="article",
        report_id=[
            article_report_id(source, published, n, t)
            for n, t in zip(claims["vessel_name"], claims["claim_text"], strict=True)
        ],
        phrases=[phrases_of(row) for _, row in claims.iterrows()],
    )
    return store_claims(conn, claims)


def read_text_file(path: Path) -> str:
    """The text of an article or reports file: UTF-8 (with or without BOM), no NUL bytes."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StraitwatchError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    nul = data.find(b"\x00")
    if nul >= 0:
        raise StraitwatchError(f"{path}: contains NUL bytes (offset {nul}): not a text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise StraitwatchError(
            f"{path}: line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
            f"{exc.start}); convert the file to UTF-8 first"
        ) from exc


# ----------------------------------------------------------------------------- reports CSV


class _RowError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _utc_time(value: str, field: str, *, end_of_day: bool = False) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise _RowError(field, f"not an ISO 8601 date or time: {value!r}") from exc
    if len(value.strip()) == 10 and end_of_day:
        parsed += timedelta(days=1)  # a bare date as an upper bound means "by the end of it"
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _parse_csv_row(raw: dict[str, str], gaz: Gazetteer) -> dict:
    v = {k: (raw.get(k) or "").strip() for k in CSV_COLUMNS + OPTIONAL_CSV_COLUMNS}
    for k, value in v.items():
        if len(value) > MAX_FIELD_CHARS:
            raise _RowError(k, f"longer than {MAX_FIELD_CHARS} characters")
        if "\x00" in value:
            raise _RowError(k, "contains a NUL character")
    out: dict = {"source": v["source"] or None, "claim_text": v["claim_text"] or None}
    if v["report_id"] and not set(v["report_id"]) <= _REPORT_ID_CHARS:
        raise _RowError("report_id", "use letters, digits and . _ : - only")
    if len(v["report_id"]) > 128:
        raise _RowError("report_id", "longer than 128 characters")
    out["report_id"] = v["report_id"] or None
    out["published_at"] = (
        _utc_time(v["published_at"], "published_at") if v["published_at"] else None
    )
    out["vessel_name"] = v["vessel_name"] or None
    if v["imo"]:
        imo = normalise_imo(v["imo"])
        if imo is None:
            raise _RowError("imo", f"{v['imo']!r} is not a 7-digit IMO number")
        if not imo_is_valid(imo):
            expected = sum(int(d) * w for d, w in zip(imo[:6], range(7, 1, -1), strict=True)) % 10
            raise _RowError(
                "imo", f"IMO {imo} fails its check digit (the last digit should be {expected})"
            )
        out["imo"] = imo
    if v["mmsi"]:
        if not v["mmsi"].isdigit() or not SHIP_MMSI_MIN <= int(v["mmsi"]) <= SHIP_MMSI_MAX:
            raise _RowError(
                "mmsi", f"{v['mmsi']!r} is not a ship MMSI ({SHIP_MMSI_MIN}-{SHIP_MMSI_MAX})"
            )
        out["mmsi"] = int(v["mmsi"])
    if not (out["vessel_name"] or out.get("imo") or out.get("mmsi")):
        raise _RowError("vessel_name", "no vessel: give vessel_name, imo or mmsi")
    for field, key in (
        ("departure_port", "departure_port_id"),
        ("destination_port", "destination_port_id"),
    ):
        if v[field]:
            port = gaz.find_port(v[field])
            if port is None:
                hint = gaz.suggest(v[field], "port")
                raise _RowError(
                    field,
                    f"unknown port {v[field]!r} (not a UN/LOCODE or name in the ports table"
                    + (f"; did you mean {hint}?" if hint else "")
                    + ")",
                )
            out[key] = port
    if v["departed_after"]:
        out["departed_after"] = _utc_time(v["departed_after"], "departed_after")
    if v["departed_before"]:
        out["departed_before"] = _utc_time(v["departed_before"], "departed_before", end_of_day=True)
    after, before = out.get("departed_after"), out.get("departed_before")
    if after and before and after >= before:
        raise _RowError("departed_before", "is not after departed_after")
    if v["via_chokepoint"]:
        cp = gaz.find_chokepoint(v["via_chokepoint"])
        if cp is None:
            hint = gaz.suggest(v["via_chokepoint"], "chokepoint")
            raise _RowError(
                "via_chokepoint",
                f"unknown chokepoint {v['via_chokepoint']!r}"
                + (f" (did you mean {hint}?)" if hint else ""),
            )
        out["via_chokepoint_id"] = cp
    elif v["via_date"] or v["via_direction"]:
        raise _RowError("via_chokepoint", "via_date or via_direction given without a chokepoint")
    if v["via_date"]:
        try:
            out["via_date"] = date.fromisoformat(v["via_date"])
        except ValueError as exc:
            raise _RowError(
                "via_date", f"not an ISO 8601 day (YYYY-MM-DD): {v['via_date']!r}"
            ) from exc
    if v["via_direction"]:
        allowed = gaz.directions(out["via_chokepoint_id"]) or ()
        if v["via_direction"].lower() not in allowed:
            raise _RowError(
                "via_direction",
                f"{v['via_direction']!r} is not a direction of {out['via_chokepoint_id']} "
                f"({' or '.join(allowed)})",
            )
        out["via_direction"], out["via_direction_basis"] = v["via_direction"].lower(), "stated"
    if not (
        out.get("departure_port_id")
        or out.get("via_chokepoint_id")
        or out.get("destination_port_id")
    ):
        raise _RowError(
            "departure_port",
            "nothing to check: give departure_port, via_chokepoint or destination_port",
        )
    if v["vessel_kind"]:
        if v["vessel_kind"].lower() not in VESSEL_KINDS:
            raise _RowError("vessel_kind", f"expected one of {', '.join(VESSEL_KINDS)}")
        out["vessel_kind"] = v["vessel_kind"].lower()
    if v["vessel_flag"]:
        if not (len(v["vessel_flag"]) == 2 and v["vessel_flag"].isalpha()):
            raise _RowError("vessel_flag", "expected an ISO 3166 alpha-2 code such as RU")
        out["vessel_flag"] = v["vessel_flag"].upper()
    return out


def import_reports(conn: psycopg.Connection, path: Path | str) -> int:
    """Load a reports CSV (format in the design notes) into reported_departures.

    All or nothing: any bad row raises StraitwatchError naming the file, line and field (and how
    many other rows are bad). Returns the number of reports in the file.
    """
    path = Path(path)
    text = read_text_file(path)
    gaz = load_gazetteer(conn)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise StraitwatchError(
            f"{path}: line 1: missing column(s) {', '.join(missing)} "
            f"(expected {','.join(CSV_COLUMNS)})"
        )
    unknown = [c for c in header if c not in CSV_COLUMNS + OPTIONAL_CSV_COLUMNS]
    if unknown:
        raise StraitwatchError(f"{path}: line 1: unknown column(s) {', '.join(unknown)}")
    reader.fieldnames = header
    rows: list[dict] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    try:
        for raw in reader:
            line = reader.line_num
            if None in raw:
                errors.append(f"line {line}: more fields than the header has")
                continue
            if not any((value or "").strip() for value in raw.values()):
                continue
            try:
                row = _parse_csv_row(raw, gaz)
            except _RowError as exc:
                errors.append(f"line {line}, field {exc.field}: {exc}")
                continue
            row["report_id"] = row["report_id"] or _csv_report_id(raw)
            if row["report_id"] in seen:
                errors.append(
                    f"line {line}, field report_id: {row['report_id']!r} repeats line "
                    f"{seen[row['report_id']]}"
                )
                continue
            seen[row["report_id"]] = line
            rows.append(row)
    except csv.Error as exc:
        errors.append(f"line {reader.line_num}: malformed CSV: {exc}")
    if errors:
        more = f" (and {len(errors) - 1} more bad rows)" if len(errors) > 1 else ""
        raise StraitwatchError(f"{path}: {errors[0]}{more}")
    if not rows:
        return 0
    frame = pd.DataFrame(rows)
    frame = fill_implied_directions(frame.assign(via_direction_phrase=None), gaz)
    frame["origin"] = "csv"
    frame["phrases"] = [
        {"via_direction": p} if isinstance(p, str) else {} for p in frame["via_direction_phrase"]
    ]
    store_claims(conn, frame)
    return len(frame)


def _csv_report_id(raw: dict[str, str]) -> str:
    key = "\x1f".join((raw.get(c) or "").strip() for c in CSV_COLUMNS[1:])
    return "csv-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]


def fill_implied_directions(frame: pd.DataFrame, gaz: Gazetteer) -> pd.DataFrame:
    """Fill via_direction from the route between the claimed ports where it was not stated."""
    frame = frame.reindex(
        columns=list(
            dict.fromkeys(
                [
                    *frame.columns,
                    "via_direction",
                    "via_direction_basis",
                    "departure_port_id",
                    "destination_port_id",
                    "via_chokepoint_id",
                ]
            )
        )
    )
    todo = frame.index[frame["via_chokepoint_id"].notna() & frame["via_direction"].isna()]
    implied = [
        implied_direction(gaz, cp, _clean_text(dep), _clean_text(dest))
        for cp, dep, dest in frame.loc[
            todo, ["via_chokepoint_id", "departure_port_id", "destination_port_id"]
        ].itertuples(index=False, name=None)
    ]
    found = [i for i, d in zip(todo, implied, strict=True) if d.direction]
    directions = {i: d for i, d in zip(todo, implied, strict=True) if d.direction}
    frame.loc[found, "via_direction"] = [directions[i].direction for i in found]
    frame.loc[found, "via_direction_basis"] = "route"
    frame.loc[found, "via_direction_phrase"] = [directions[i].basis for i in found]
    return frame
