"""Raw NMEA 0183 AIS (!AIVDM / !AIVDO) -> canonical records, decoded with pyais.

A record is a non-blank physical line. A message spread over several sentences (type 5 is
usually two) is one canonical record spanning all its lines (`n_lines`); a Gatehouse `$PGHP`
line belongs to the AIS sentence after it. Every line therefore ends up loaded (as part of a
record) or refused with its own reason, and read = loaded + rejected holds per line.

The time of a message is taken, in this order, from: the NMEA 4 tag block (`c:` epoch seconds,
or milliseconds when the number is that large; sentences of a tag-block group without `c:`
take the group's), a leading time column as receivers log it (`1700000000.5 !AIVDM...`,
`2024-01-01T00:00:00Z;!AIVDM...`), a trailing epoch field after the checksum (USCG NAIS
`...*hh,s...,r...,1218153601`), a preceding `$PGHP` Gatehouse line, then `received_at`.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pyais.exceptions import AISBaseException
from pyais.messages import AISSentence, GatehouseSentence, TagBlock

from pipeline.ingest.records import (
    Batch,
    ReadResult,
    collect,
    conform,
    empty_rejects,
    make_rejects,
)
from pipeline.ingest.source import BLOCK_BYTES, SourceFile, inspect, iter_line_blocks

POSITION_TYPES = frozenset({1, 2, 3, 18, 19, 27})
STATIC_TYPES = frozenset({5, 24})
NOT_VESSEL_TYPES = {4: "base station report", 9: "SAR aircraft", 21: "aid to navigation"}
BATCH_LINES = 200_000
MAX_PENDING_LINES = 1_000  # a fragment whose siblings have not come this many lines later is lone

_LINE = re.compile(
    rb"^(?P<prefix>[^!$\\]*?)(?:\\(?P<tag>[^\\]*)\\)?"
    rb"(?P<sentence>[!$][A-Za-z]{4,5},[^*]*\*[0-9A-Fa-f]{2})(?P<trailer>.*)$"
)
_LOOKS_AIS = re.compile(rb"[!$][A-Za-z]{2}VD[MO]", re.IGNORECASE)
_EPOCH = re.compile(r"^\d{9,13}(\.\d+)?$")
_SEPARATORS = " \t,;|"


def looks_like_nmea(line: bytes) -> bool:
    """True when a line carries an AIS sentence (used by the format sniffer)."""
    return bool(_LOOKS_AIS.search(line)) and bool(_LINE.match(line.strip()))


def _epoch_seconds(text: str) -> float | None:
    value = float(text)
    return value / 1000.0 if value > 1e11 else value  # c: in milliseconds on some feeds


@dataclass
class _Time:
    """Where one line's time came from: epoch seconds, or text to parse as ISO 8601."""

    epoch: float | None = None
    iso: str | None = None
    error: str | None = None

    @property
    def known(self) -> bool:
        return self.epoch is not None or self.iso is not None


@dataclass
class _Line:
    number: int
    raw: str
    time: _Time
    attached: list[tuple[int, str]] = field(default_factory=list)  # $PGHP lines before it


@dataclass
class _Pending:
    lines: list[_Line]
    sentences: list[AISSentence]


class _Decoder:
    """Line-by-line state machine; `flush()` hands out a Batch of what has been decided."""

    def __init__(self, received_at: datetime | None) -> None:
        stamp = pd.Timestamp(received_at) if received_at is not None else None
        if stamp is not None and stamp.tzinfo is None:
            stamp = stamp.tz_localize("UTC")  # times without a zone are UTC
        self.received_epoch = stamp.timestamp() if stamp is not None else None
        self.pending: dict[tuple, _Pending] = {}
        self.groups: dict[str, _Time] = {}
        self.wrapper: tuple[int, str, _Time, str | None] | None = None
        self.rows: list[dict] = []
        self.raw: dict[int, str] = {}
        self.members: dict[int, tuple[int, ...]] = {}
        self.rej_line: list[int] = []
        self.rej_raw: list[str] = []
        self.rej_reason: list[str] = []
        self.rej_detail: list[str | None] = []

    # ------------------------------------------------------------------ refusing

    def refuse(self, line: _Line, reason: str, detail: str | None = None) -> None:
        for number, raw in [(line.number, line.raw), *line.attached]:
            self.rej_line.append(number)
            self.rej_raw.append(raw)
            self.rej_reason.append(reason)
            self.rej_detail.append(detail)

    def _take_wrapper(self, line: _Line) -> None:
        if self.wrapper is None:
            return
        number, raw, time, error = self.wrapper
        self.wrapper = None
        line.attached.append((number, raw))
        if not line.time.known and time.known:
            line.time = time
        if error and not line.time.error:
            line.time.error = error

    def _orphan_wrapper(self) -> None:
        if self.wrapper is not None:
            number, raw, _, _ = self.wrapper
            self.wrapper = None
            self.refuse(_Line(number, raw, _Time()), "not_ais", "$PGHP line with no AIS sentence")

    # ------------------------------------------------------------------ lines

    def feed(self, number: int, raw_bytes: bytes) -> None:
        text = raw_bytes.strip()
        if not text:
            return
        raw = text.decode("utf-8", "replace")
        m = _LINE.match(text)
        if m is None:
            self._orphan_wrapper()
            looks = _LOOKS_AIS.search(text) is not None
            self.refuse(
                _Line(number, raw, _Time()),
                "malformed_sentence" if looks else "not_ais",
                "no *hh checksum" if looks else None,
            )
            return
        sentence = m["sentence"]
        kind = sentence[3:].split(b",", 1)[0].upper()
        if kind == b"PGHP" or sentence[1:5].upper() == b"PGHP":
            self._gatehouse(number, raw, sentence)
            return
        line = _Line(number, raw, self._line_time(m))
        if kind not in (b"VDM", b"VDO"):
            self._orphan_wrapper()
            self.refuse(line, "not_ais", f"{sentence[:6].decode('ascii', 'replace')} sentence")
            return
        self._take_wrapper(line)
        if m["tag"] is not None:
            tag = TagBlock(m["tag"])
            tag.init()
            if not tag.is_valid:
                self.refuse(line, "bad_checksum", "tag block")
                return
            self._group_time(tag, line)
        try:
            msg = AISSentence(sentence)
        except (AISBaseException, ValueError, IndexError, UnicodeDecodeError) as exc:
            self.refuse(line, "malformed_sentence", str(exc)[:200])
            return
        if not msg.is_valid:
            self.refuse(line, "bad_checksum", None)
            return
        if not msg.payload:
            self.refuse(line, "empty_payload", None)
            return
        if msg.frag_cnt == 1:
            self._message([line], [msg])
        else:
            self._fragment(line, msg)

    def _gatehouse(self, number: int, raw: str, sentence: bytes) -> None:
        self._orphan_wrapper()
        try:
            gh = GatehouseSentence(sentence)
        except (AISBaseException, ValueError, IndexError):
            self.wrapper = (number, raw, _Time(), "unreadable $PGHP time")
            return
        if not gh.is_valid:
            self.refuse(_Line(number, raw, _Time()), "bad_checksum", "$PGHP")
            return
        epoch = calendar.timegm(gh.timestamp.timetuple()) + gh.timestamp.microsecond / 1e6
        self.wrapper = (number, raw, _Time(epoch=epoch), None)

    def _line_time(self, m: re.Match[bytes]) -> _Time:
        time = _Time()
        tag = m["tag"]
        if tag:
            for part in tag.split(b"*", 1)[0].split(b","):
                if part.startswith(b"c:"):
                    value = part[2:].decode("ascii", "replace")
                    try:
                        time.epoch = _epoch_seconds(value)
                    except ValueError:
                        time.error = f"tag block c:{value!r}"
                    return time
        prefix = m["prefix"].decode("utf-8", "replace").strip(_SEPARATORS)
        if prefix:
            if _EPOCH.match(prefix):
                time.epoch = _epoch_seconds(prefix)
            else:
                time.iso = prefix
            return time
        trailer = m["trailer"].decode("utf-8", "replace").strip(_SEPARATORS)
        if trailer:
            last = trailer.split(",")[-1].strip()
            if _EPOCH.match(last):
                time.epoch = _epoch_seconds(last)
        return time

    def _group_time(self, tag: TagBlock, line: _Line) -> None:
        group = tag.group
        if group is None:
            return
        gid = str(group.group_id)
        if line.time.known:
            self.groups[gid] = line.time
        elif gid in self.groups:
            known = self.groups[gid]
            line.time = _Time(known.epoch, known.iso, known.error)
        if int(group.sentence_num) >= int(group.sentence_tot):
            self.groups.pop(gid, None)

    def _fragment(self, line: _Line, msg: AISSentence) -> None:
        key = (msg.talker_id, msg.channel, msg.seq_id, msg.frag_cnt)
        pending = self.pending.get(key)
        if msg.frag_num == 1:
            if pending is not None:
                self._lone(pending, "a new message began with the same sequence id")
            self.pending[key] = _Pending([line], [msg])
            return
        if pending is None or len(pending.sentences) != msg.frag_num - 1:
            if pending is not None:
                del self.pending[key]
                self._lone(pending, f"fragment {msg.frag_num} came out of order")
            self.refuse(
                line,
                "lone_fragment",
                f"fragment {msg.frag_num} of {msg.frag_cnt} without the ones before it",
            )
            return
        pending.lines.append(line)
        pending.sentences.append(msg)
        if msg.frag_num == msg.frag_cnt:
            del self.pending[key]
            self._message(pending.lines, pending.sentences)

    def _lone(self, pending: _Pending, why: str) -> None:
        total = pending.sentences[0].frag_cnt
        for line, msg in zip(pending.lines, pending.sentences, strict=True):
            self.refuse(line, "lone_fragment", f"fragment {msg.frag_num} of {total}: {why}")

    def expire(self, current_line: int, *, everything: bool = False) -> None:
        """Give up on fragments waiting too long (or all of them, at the end of the file)."""
        for key in list(self.pending):
            pending = self.pending[key]
            if everything or current_line - pending.lines[0].number > MAX_PENDING_LINES:
                del self.pending[key]
                self._lone(pending, "the rest never came")
        if everything:
            self._orphan_wrapper()

    # ------------------------------------------------------------------ messages

    def _message(self, lines: list[_Line], sentences: list[AISSentence]) -> None:
        whole = (
            AISSentence.assemble_from_iterable(sentences) if len(sentences) > 1 else sentences[0]
        )
        first = lines[0]
        msg_type = whole.ais_id
        if msg_type in NOT_VESSEL_TYPES:
            self._refuse_all(
                lines, "not_a_vessel", f"type {msg_type}: {NOT_VESSEL_TYPES[msg_type]}"
            )
            return
        if msg_type not in POSITION_TYPES and msg_type not in STATIC_TYPES:
            self._refuse_all(lines, "unsupported_type", f"type {msg_type}")
            return
        try:
            decoded = whole.decode()
        except (AISBaseException, ValueError, IndexError, KeyError, TypeError) as exc:
            self._refuse_all(lines, "decode_error", f"type {msg_type}: {exc}"[:200])
            return
        row = _canonical(decoded, msg_type)
        if row is None:
            bits = len(whole.payload) * 6 - whole.fill_bits
            self._refuse_all(
                lines, "decode_error", f"type {msg_type}: payload of {bits} bits too short"
            )
            return
        time = next((ln.time for ln in lines if ln.time.known or ln.time.error), first.time)
        if time.error:
            self._refuse_all(lines, "bad_timestamp", time.error)
            return
        row["line_no"] = first.number
        row["epoch"] = (
            time.epoch
            if time.epoch is not None
            else (None if time.iso is not None else self.received_epoch)
        )
        row["iso"] = time.iso
        physical = [pair for line in lines for pair in [(line.number, line.raw), *line.attached]]
        row["n_lines"] = len(physical)
        self.rows.append(row)
        for number, raw in physical:
            self.raw[number] = raw
        if len(physical) > 1:
            self.members[first.number] = tuple(n for n, _ in physical if n != first.number)

    def _refuse_all(self, lines: list[_Line], reason: str, detail: str) -> None:
        for line in lines:
            self.refuse(line, reason, detail)

    # ------------------------------------------------------------------ batches

    def flush(self) -> Batch:
        records = _records_frame(self.rows)
        if len(records):
            unreadable = records["ts_error"].to_numpy()
            if unreadable.any():
                for line_no in records.loc[unreadable, "line_no"]:
                    lines = [int(line_no), *self.members.get(int(line_no), ())]
                    iso = records.loc[records["line_no"] == line_no, "iso"].iloc[0]
                    for number in lines:
                        self.rej_line.append(number)
                        self.rej_raw.append(self.raw[number])
                        self.rej_reason.append("bad_timestamp")
                        self.rej_detail.append(f"time column {iso!r}")
                records = records[~unreadable]
        rejects = (
            make_rejects(self.rej_line, self.rej_raw, self.rej_reason, self.rej_detail)
            if self.rej_line
            else empty_rejects()
        )
        raw = self.raw

        def text(line_no: np.ndarray) -> list[str]:
            return [raw[int(n)] for n in line_no]

        batch = Batch(
            conform(records.drop(columns=["ts_error", "iso"]).reset_index(drop=True)),
            rejects.sort_values("line_no", kind="stable").reset_index(drop=True),
            text,
            dict(self.members),
        )
        self.rows, self.raw, self.members = [], {}, {}
        self.rej_line, self.rej_raw, self.rej_reason, self.rej_detail = [], [], [], []
        return batch


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).replace("@", " ").strip()
    return text or None


def _canonical(msg: Any, msg_type: int) -> dict | None:
    """Canonical fields of a decoded message; None when the payload was cut short."""
    mmsi = getattr(msg, "mmsi", None)
    if mmsi is None:
        return None
    row: dict = {"mmsi": int(mmsi), "msg_type": msg_type}
    if msg_type in POSITION_TYPES:
        lat, lon = getattr(msg, "lat", None), getattr(msg, "lon", None)
        if lat is None or lon is None:
            return None
        row.update(kind="position", lat=float(lat), lon=float(lon))
        speed, course = getattr(msg, "speed", None), getattr(msg, "course", None)
        if msg_type == 27:  # 1-knot / 1-degree resolution, 63 and 511 mean not available
            speed = None if speed is None or speed >= 63 else speed
            course = None if course is None or course >= 511 else course
        else:
            row["heading"] = getattr(msg, "heading", None)
        row["sog"] = speed
        row["cog"] = course
        status = getattr(msg, "status", None)
        row["nav_status"] = None if status is None else int(status)
        if msg_type == 19:
            row["name"] = _text(getattr(msg, "shipname", None))
            ship_type = getattr(msg, "ship_type", None)
            row["ship_type"] = None if ship_type is None else int(ship_type)
        return row
    row["kind"] = "static"
    if msg_type == 5:
        if getattr(msg, "destination", None) is None:
            return None
        imo = getattr(msg, "imo", None)
        row.update(
            imo=str(imo) if imo else None,
            callsign=_text(msg.callsign),
            name=_text(msg.shipname),
            ship_type=int(msg.ship_type) if msg.ship_type is not None else None,
            draught_m=msg.draught or None,
            destination=_text(msg.destination),
            eta_month=msg.month,
            eta_day=msg.day,
            eta_hour=msg.hour,
            eta_minute=msg.minute,
        )
        return row
    part = getattr(msg, "partno", None)
    if part == 0:
        if getattr(msg, "shipname", None) is None:
            return None
        row["name"] = _text(msg.shipname)
    elif part == 1:
        if getattr(msg, "callsign", None) is None:
            return None
        row["callsign"] = _text(msg.callsign)
        row["ship_type"] = int(msg.ship_type) if msg.ship_type is not None else None
    else:
        return None
    return row


def _records_frame(rows: list[dict]) -> pd.DataFrame:
    """Canonical columns from decoded rows, with times resolved (vectorised)."""
    frame = pd.DataFrame(rows)
    if frame.empty:
        frame = pd.DataFrame({"line_no": pd.Series(dtype="int64")})
        frame["ts_error"] = pd.Series(dtype=bool)
        frame["iso"] = pd.Series(dtype="string")
        return frame
    for col in ("epoch", "iso", "heading", "sog", "cog", "nav_status", "name", "imo"):
        if col not in frame:
            frame[col] = None
    epoch = pd.to_numeric(frame["epoch"], errors="coerce").to_numpy(dtype="float64")
    ts = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us, UTC]")
    ok = np.isfinite(epoch) & (np.abs(epoch) < 4e12)
    ts[ok] = pd.to_datetime((epoch[ok] * 1e6).round().astype("int64"), unit="us", utc=True)
    iso = frame["iso"].astype("string")
    has_iso = iso.notna().to_numpy()
    parsed = pd.to_datetime(iso[has_iso], format="ISO8601", utc=True, errors="coerce")
    ts[has_iso] = parsed.astype("datetime64[us, UTC]")
    frame["ts_error"] = has_iso & ts.isna().to_numpy()
    frame["ts"] = ts
    frame["heading"] = pd.to_numeric(frame["heading"], errors="coerce")
    if "eta_month" in frame:
        frame["eta"] = _eta(frame)
    return frame


def _eta(frame: pd.DataFrame) -> pd.Series:
    """Type 5 ETA (month, day, hour, minute, no year) -> the nearest such time to the report."""
    month = pd.to_numeric(frame["eta_month"], errors="coerce")
    day = pd.to_numeric(frame["eta_day"], errors="coerce")
    hour = pd.to_numeric(frame["eta_hour"], errors="coerce")
    minute = pd.to_numeric(frame["eta_minute"], errors="coerce")
    valid = month.between(1, 12) & day.between(1, 31) & frame["ts"].notna()
    hour = hour.where(hour.between(0, 23), 0)
    minute = minute.where(minute.between(0, 59), 0)
    year = frame["ts"].dt.year
    best = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us, UTC]")
    best_gap = pd.Series(np.inf, index=frame.index)
    for offset in (-1, 0, 1):
        candidate = pd.to_datetime(
            pd.DataFrame(
                {
                    "year": (year + offset).where(valid),
                    "month": month.where(valid),
                    "day": day.where(valid),
                    "hour": hour,
                    "minute": minute,
                }
            ),
            errors="coerce",
            utc=True,
        ).astype("datetime64[us, UTC]")
        gap = (candidate - frame["ts"]).abs().dt.total_seconds()
        better = gap < best_gap
        best = best.mask(better, candidate)
        best_gap = best_gap.mask(better, gap)
    return best


def iter_batches(
    path: Path | str,
    *,
    received_at: datetime | None = None,
    batch_lines: int = BATCH_LINES,
    source: SourceFile | None = None,
) -> Iterator[Batch]:
    """Decode an NMEA file in batches of about `batch_lines` physical lines."""
    src = source or inspect(path)
    decoder = _Decoder(received_at)
    since_flush = 0
    number = 0
    with src.open() as stream:
        for block in iter_line_blocks(stream, block_bytes=min(BLOCK_BYTES, batch_lines * 80)):
            data = block.data
            for i, (start, end) in enumerate(zip(block.starts, block.ends, strict=True)):
                number = block.first_line + i
                decoder.feed(number, data[start:end])
            since_flush += len(block)
            decoder.expire(number)
            if since_flush >= batch_lines:
                yield decoder.flush()
                since_flush = 0
    decoder.expire(number, everything=True)
    yield decoder.flush()


def read(path: Path | str, *, received_at: datetime | None = None) -> ReadResult:
    """Decode a whole NMEA file into canonical records and rejects (no database)."""
    return collect(iter_batches(path, received_at=received_at))
