"""Readers and cleaning on the real samples, without a database: exact counts per reason."""

from __future__ import annotations

import bz2
import gzip
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pa_parquet
import pytest
from ingest_samples import (
    AEGEAN,
    AISHUB,
    DIGITRAFFIC,
    DMA_HEAD,
    DMA_INDEXED,
    FIXTURES,
    NOAA,
    RECEIVER_LOG,
)

from pipeline.errors import StraitwatchError
from pipeline.ingest import dma, nmea, noaa, tabular
from pipeline.ingest.clean import clean, normalise_statics
from pipeline.ingest.records import Batch
from pipeline.ingest.sniff import detect

NOW = datetime(2026, 1, 1, tzinfo=UTC)  # fixed "ingest time" for the future-time rule


def read_and_clean(batches: list[Batch]) -> tuple[int, int, pd.DataFrame]:
    """(lines read, lines loaded, all rejects one per line) over a reader's batches."""
    read = loaded = 0
    rejects = []
    for batch in batches:
        cleaned = clean(batch.records, now=NOW)
        read += batch.lines_read
        loaded += cleaned.loaded_lines
        rejects += [batch.rejects, batch.expand_rejects(cleaned.rejects)]
    return read, loaded, pd.concat(rejects, ignore_index=True)


def reasons(rejects: pd.DataFrame) -> dict[str, int]:
    return rejects["reason"].astype(str).value_counts().sort_index().to_dict()


# --------------------------------------------------------------------------- NOAA


def test_noaa_sample_counts_and_values() -> None:
    read, loaded, rejects = read_and_clean(list(noaa.iter_batches(NOAA)))
    # 1,000 data lines, one fix per vessel; two station MMSIs of fewer than nine digits:
    # line 524 (3669882, a US coast station) and line 542 (36926403).
    assert (read, loaded) == (1000, 998)
    assert reasons(rejects) == {"mmsi_out_of_range": 2}
    assert rejects["line_no"].tolist() == [524, 542]
    assert rejects["raw"].iloc[0].startswith("3669882,2023-01-11T00:00:05,42.87711")

    records = noaa.read(NOAA).records
    cleaned = clean(records, now=NOW)
    pos = cleaned.positions
    assert len(pos) == 998
    # not-available values become missing: 426 headings of 511, 90 COGs of 360, 4 SOGs of 102.3
    assert pos["heading"].isna().sum() == 426 - 1  # line 524 (heading 511) was refused
    assert pos["cog"].isna().sum() == 90
    assert pos["sog"].isna().sum() == 4
    first = pos[pos["mmsi"] == 636021061].iloc[0]
    assert first["ts"] == pd.Timestamp("2023-01-11T00:00:00Z")
    assert (first["lat"], first["lon"], first["sog"], first["nav_status"]) == (
        26.09241,
        -80.04806,
        8.8,
        8,
    )
    statics = normalise_statics(cleaned.statics).set_index("mmsi")
    assert statics.loc[636021061, "imo"] == "9307839"  # IMO9307839 -> digits
    assert bool(statics.loc[636021061, "imo_valid"])
    assert statics.loc[636021061, "name"] == "MSC NAISHA III"
    # IMO0000000 means "not available"; 420 rows report something else
    assert statics["imo"].notna().sum() == 420  # neither refused line (524, 542) has one
    assert pd.isna(statics.loc[367752440, "imo"])


@pytest.mark.parametrize(
    "name", ["noaa_2017_layout.csv", "noaa_2025_layout.csv", "noaa_gdb_broadcast_export.csv"]
)
def test_noaa_older_and_newer_headers_read_the_same_fixes(name: str) -> None:
    path = FIXTURES / "ingest" / name
    detected = detect(path)
    assert detected.fmt == "noaa"
    got = clean(noaa.read(path).records, now=NOW).positions
    want = clean(noaa.read(NOAA).records.head(3), now=NOW).positions
    cols = ["mmsi", "ts", "lat", "lon", "sog", "cog", "heading", "nav_status"]
    pd.testing.assert_frame_equal(got[cols], want[cols])


def _compressed(tmp_path: Path, source: Path, kind: str) -> Path:
    data = source.read_bytes()
    if kind == "gz":
        out = tmp_path / (source.name + ".gz")
        out.write_bytes(gzip.compress(data))
    elif kind == "bz2":
        out = tmp_path / (source.name + ".bz2")
        out.write_bytes(bz2.compress(data))
    elif kind == "zst":  # NOAA publishes 2025 data as ais-YYYY-MM-DD.csv.zst
        out = tmp_path / (source.name + ".zst")
        with pa.CompressedOutputStream(str(out), "zstd") as stream:
            stream.write(data)
    else:
        out = tmp_path / "AIS_2023_01_11.zip"
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(source.name, data)
    return out


@pytest.mark.parametrize("kind", ["gz", "bz2", "zst", "zip"])
def test_compressed_files_read_like_plain_ones(tmp_path: Path, kind: str) -> None:
    path = _compressed(tmp_path, NOAA, kind)
    assert detect(path).fmt == "noaa"
    plain, packed = noaa.read(NOAA), noaa.read(path)
    pd.testing.assert_frame_equal(plain.records, packed.records)
    nmea_path = _compressed(tmp_path, AEGEAN, kind)
    assert detect(nmea_path).fmt == "nmea"
    assert len(nmea.read(nmea_path).rejects) == len(nmea.read(AEGEAN).rejects)


def test_zip_with_two_files_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.csv", NOAA.read_text())
        archive.writestr("b.csv", NOAA.read_text())
    with pytest.raises(StraitwatchError, match="exactly one data file, found 2"):
        detect(path)


def test_truncated_last_line_is_one_reject(tmp_path: Path) -> None:
    text = NOAA.read_text()
    cut = tmp_path / "cut.csv"
    cut.write_text(text[: text.rstrip("\n").rfind("\n") + 30])  # 29 bytes of the last line
    read, loaded, rejects = read_and_clean(list(noaa.iter_batches(cut)))
    assert read == 1000 and loaded == 997
    last = rejects[rejects["reason"] == "malformed_row"]
    assert last["line_no"].tolist() == [1001]
    assert last["detail"].tolist() == ["2 fields, header has 17"]
    assert last["raw"].tolist() == [text.splitlines()[1000][:29]]

    lines = AEGEAN.read_text().splitlines()
    cut_nmea = tmp_path / "cut.nmea"
    cut_nmea.write_text("\n".join([*lines[:-1], lines[-1][:25]]))
    rejected = nmea.read(cut_nmea).rejects
    assert rejected.iloc[-1][["line_no", "reason"]].tolist() == [898, "malformed_sentence"]


def test_malformed_lines_and_bad_values_keep_their_text(write) -> None:
    path = write(
        "bad.csv",
        "MMSI,BaseDateTime,LAT,LON,SOG,COG,Heading\n"
        "367752440,2023-01-11T00:00:00,43.07917,-70.75733,0.0,360.0,95.0\n"
        "\n"
        "367752440,2023-01-11T00:01:00,north,-70.75733,0.0,360.0,95.0\n"
        "367752440,2023-13-11T00:02:00,43.0,-70.7,0.0,360.0,95.0\n"
        '"367752440,2023-01-11T00:03:00,43.0,-70.7,0.0,360.0,95.0\n'
        "367752440,2023-01-11T00:04:00,43.0,-70.7,fast,999,95.0,extra\n"
        "367752440,2023-01-11T00:05:00,43.0,-70.7,fast,999,95.0\n",
    )
    read, loaded, rejects = read_and_clean(list(noaa.iter_batches(path)))
    # the blank line 3 is not a record; line 8's unreadable SOG just becomes missing
    assert (read, loaded) == (6, 2)
    got = rejects.set_index("line_no")[["reason", "detail"]].to_dict("index")
    assert got == {
        4: {"reason": "bad_value", "detail": "LAT='north'"},
        5: {"reason": "bad_timestamp", "detail": "BaseDateTime='2023-13-11T00:02:00'"},
        6: {"reason": "malformed_row", "detail": "unbalanced quote"},
        7: {"reason": "malformed_row", "detail": "8 fields, header has 7"},
    }


# --------------------------------------------------------------------------- DMA


def test_dma_head_counts() -> None:
    read, loaded, rejects = read_and_clean(list(dma.iter_batches(DMA_HEAD)))
    # 138 rows: 8 Base Station and 4 AtoN rows are not vessels; line 97 (Class A, MMSI
    # 999999000) is outside the ship range; line 48 (Class A, lat 91 / lon 181, no static
    # data) has no position; line 89 repeats 219783000 at the same second as line 25.
    # Loaded: 115 fixes + 8 static-only rows (91/181 with name / call sign / type).
    assert (read, loaded) == (138, 123)
    assert reasons(rejects) == {
        "duplicate": 1,
        "mmsi_out_of_range": 1,
        "not_a_vessel": 12,
        "position_not_available": 1,
    }
    by_line = rejects.set_index("line_no")["reason"]
    assert by_line[97] == "mmsi_out_of_range" and by_line[48] == "position_not_available"
    assert by_line[89] == "duplicate"
    assert rejects.set_index("line_no").loc[89, "detail"] == "same mmsi and time as line 25"
    assert sorted(by_line[by_line == "not_a_vessel"].index) == [
        35, 38, 44, 47, 65, 71, 81, 82, 84, 99, 100, 132,
    ]  # fmt: skip

    cleaned = clean(dma.read(DMA_HEAD).records, now=NOW)
    assert len(cleaned.positions) == 115
    statics = cleaned.statics.set_index("line_no")
    assert statics.loc[33, ["name", "imo", "callsign", "ship_type", "destination"]].tolist() == [
        "ASTINA", "9320063", "SHZA", 80, "FREDERICIA",
    ]  # fmt: skip
    assert statics.loc[33, "eta"] == pd.Timestamp("2019-05-31T04:00:00Z")
    assert statics.loc[33, "draught_m"] == 5.9
    first = cleaned.positions.set_index("line_no").loc[2]
    assert first["nav_status"] == 4  # "Constrained by her draught"
    assert pd.isna(first["heading"]) is False and first["heading"] == 256


def test_dma_with_index_column() -> None:
    read, loaded, rejects = read_and_clean(list(dma.iter_batches(DMA_INDEXED)))
    assert (read, loaded, len(rejects)) == (10, 10, 0)
    records = dma.read(DMA_INDEXED).records
    assert records["nav_status"].tolist()[:4] == [0, 1, 0, 9]  # text back to codes
    assert records["ts"].min() == pd.Timestamp("2018-02-08T00:00:00Z")


# --------------------------------------------------------------------------- NMEA


def test_aegean_without_times() -> None:
    read, loaded, rejects = read_and_clean(list(nmea.iter_batches(AEGEAN)))
    # 898 lines (the last without a newline), all AIVDM: 100 with an empty payload, 20 first
    # halves of two-part messages whose second half never comes, 6 type 4 base-station
    # reports, 7 type 15 interrogations and 1 type 20 slot message. The other 764 decode
    # (667 type 1, 76 type 3, 19 type 18, 2 type 24) but the file has no time at all.
    assert (read, loaded) == (898, 0)
    assert reasons(rejects) == {
        "empty_payload": 100,
        "lone_fragment": 20,
        "no_timestamp": 764,
        "not_a_vessel": 6,
        "unsupported_type": 8,
    }


def test_aegean_with_received_at() -> None:
    at = datetime(2025, 3, 1, 12, tzinfo=UTC)
    read, loaded, rejects = read_and_clean(list(nmea.iter_batches(AEGEAN, received_at=at)))
    # With one time for the whole file, the 762 position reports of 164 vessels collide:
    # 4 carry lat 91 / lon 181 (lines 351, 473, 616, 744), the 758 others keep the first
    # report of each of 163 vessels and 595 are duplicates. Loaded: 163 fixes + the two
    # type 24 halves of 244270489.
    assert (read, loaded) == (898, 165)
    assert reasons(rejects) == {
        "duplicate": 595,
        "empty_payload": 100,
        "lone_fragment": 20,
        "not_a_vessel": 6,
        "position_not_available": 4,
        "unsupported_type": 8,
    }
    unavailable = rejects[rejects["reason"] == "position_not_available"]["line_no"]
    assert sorted(unavailable) == [351, 473, 616, 744]


def test_aishub_sample_reasons() -> None:
    read, loaded, rejects = read_and_clean(list(nmea.iter_batches(AISHUB)))
    # 21 non-blank lines: 5 comments and one line of text; line 12 lacks its "*hh"; four
    # checksums are wrong (three tag blocks, one $PGHP); the 2-sentence type 5 on lines
    # 13-14 has a tag-block time and loads; 7 position reports have no time and line 4's
    # MMSI 786434 is not a ship's.
    assert (read, loaded) == (21, 2)
    assert reasons(rejects) == {
        "bad_checksum": 4,
        "malformed_sentence": 1,
        "mmsi_out_of_range": 1,
        "no_timestamp": 7,
        "not_ais": 6,
    }


def test_receiver_log_times_fragments_and_wrappers() -> None:
    result = nmea.read(RECEIVER_LOG)
    records = result.records.set_index("line_no")
    base = pd.Timestamp("2023-11-14T22:13:20Z")
    assert records.loc[2, "ts"] == base + pd.Timedelta("250ms")  # leading epoch column
    assert records.loc[3, "ts"] == base + pd.Timedelta("1s")  # leading ISO column
    assert records.loc[4, "ts"] == base + pd.Timedelta("2s")  # tag block c:
    assert records.loc[5, "ts"] == base + pd.Timedelta("3s")  # group time, 2 sentences
    assert records.loc[5, "n_lines"] == 2
    assert records.loc[5, ["name", "callsign", "ship_type"]].tolist() == [
        "MARE ISLAND", "WDC2198", 60,
    ]  # fmt: skip
    # type 5 ETA has no year: the one nearest the report (April 2024, not April 2023)
    assert records.loc[5, "eta"] == pd.Timestamp("2024-04-07T14:30:00Z")
    assert records.loc[8, "ts"] == base + pd.Timedelta("4s")  # trailing USCG NAIS epoch
    assert records.loc[10, "ts"] == pd.Timestamp("2023-11-14T22:15:00Z")  # $PGHP on line 9
    assert records.loc[10, "n_lines"] == 2
    assert pd.isna(records.loc[15, "ts"])  # no time at all
    assert records.loc[13, "name"] == "SY-LUNDE" and records.loc[14, "callsign"] == "PH7460"
    refused = result.rejects.set_index("line_no")[["reason", "detail"]].fillna("")
    assert refused.to_dict("index") == {
        1: {"reason": "not_ais", "detail": ""},
        11: {"reason": "bad_checksum", "detail": ""},
        12: {"reason": "bad_timestamp", "detail": "time column 'yesterday'"},
        16: {"reason": "lone_fragment", "detail": "fragment 1 of 2: the rest never came"},
    }
    # 16 lines, line 7 blank: 11 lines in records + 4 refused
    assert int(result.records["n_lines"].sum()) + len(result.rejects) == 15


def test_batches_split_anywhere_give_the_same_result() -> None:
    whole = nmea.read(RECEIVER_LOG)
    parts = list(nmea.iter_batches(RECEIVER_LOG, batch_lines=3))
    assert len(parts) > 1
    records = pd.concat([p.records for p in parts], ignore_index=True)
    pd.testing.assert_frame_equal(records, whole.records)
    small = list(
        tabular.iter_csv_batches(detect(DMA_HEAD).source, detect(DMA_HEAD).layout, block_bytes=2000)
    )
    assert len(small) > 5
    assert sum(b.lines_read for b in small) == 138
    pd.testing.assert_frame_equal(
        pd.concat([b.records for b in small], ignore_index=True), dma.read(DMA_HEAD).records
    )


# --------------------------------------------------------------------------- sniffing


@pytest.mark.parametrize(
    ("path", "fmt", "mapping"),
    [
        (NOAA, "noaa", None),
        (DMA_HEAD, "dma", None),
        (DMA_INDEXED, "dma", None),
        (DIGITRAFFIC, "csv", "digitraffic"),
        (AEGEAN, "nmea", None),
        (AISHUB, "nmea", None),
        (RECEIVER_LOG, "nmea", None),
    ],
)
def test_formats_are_sniffed(path: Path, fmt: str, mapping: str | None) -> None:
    detected = detect(path)
    assert (detected.fmt, detected.mapping_name) == (fmt, mapping)


def test_well_known_names_and_parquet(tmp_path: Path, write) -> None:
    path = write(
        "feed.csv",
        "time;MMSI;Latitude;Longitude;Speed\n2024-05-01T10:00:00Z;273351920;35.9;-5.6;12.5\n",
    )
    detected = detect(path)
    assert (detected.fmt, detected.layout.delimiter) == ("csv", ";")
    records = pd.concat([b.records for b in detected.iter_batches()])
    assert records[["mmsi", "lat", "lon", "sog"]].iloc[0].tolist() == [273351920, 35.9, -5.6, 12.5]
    frame = tabular.read(DIGITRAFFIC).records
    pq = tmp_path / "snap.parquet"
    pa_parquet.write_table(pa_csv.read_csv(DIGITRAFFIC), pq)
    parquet = detect(pq)
    assert (parquet.fmt, parquet.mapping_name) == ("parquet", "digitraffic")
    got = pd.concat([b.records for b in parquet.iter_batches()], ignore_index=True)
    # a Parquet record is a row numbered from 1; a CSV record a line, the header being line 1
    assert (got["line_no"] + 1).tolist() == frame["line_no"].tolist()
    cols = ["mmsi", "ts", "lat", "lon", "name", "destination"]
    pd.testing.assert_frame_equal(got[cols], frame[cols], check_exact=False)


def test_unknown_formats_are_one_line_errors(tmp_path: Path, write) -> None:
    with pytest.raises(StraitwatchError, match="cannot tell its format"):
        detect(write("notes.csv", "a,b,c\n1,2,3\n"))
    with pytest.raises(StraitwatchError, match="empty file"):
        detect(write("empty.csv", ""))
    with pytest.raises(StraitwatchError, match="no such file"):
        detect(tmp_path / "missing.csv")
    with pytest.raises(StraitwatchError, match="is a directory"):
        detect(tmp_path)
    with pytest.raises(StraitwatchError, match="not NOAA's"):
        detect(DMA_HEAD, fmt="noaa")


def test_clean_rules_one_by_one() -> None:
    rows = [
        # mmsi, ts, lat, lon, sog, cog, heading, status
        (201000000, "2024-01-01T00:00:00Z", 10.0, 20.0, 102.3, 360.0, 511, 16),  # loaded, nulls
        (200999999, "2024-01-01T00:00:00Z", 10.0, 20.0, 1.0, 1.0, 1, 0),  # mmsi_out_of_range
        (775999999, None, 10.0, 20.0, 1.0, 1.0, 1, 0),  # no_timestamp
        (775999999, "1989-12-31T00:00:00Z", 10.0, 20.0, 1.0, 1.0, 1, 0),  # out of range
        (775999999, "2026-01-02T01:00:00Z", 10.0, 20.0, 1.0, 1.0, 1, 0),  # > 24 h ahead
        (775999999, "2024-01-01T00:00:00Z", 91.0, 181.0, 1.0, 1.0, 1, 0),  # not available
        (775999999, "2024-01-01T00:00:00Z", -90.5, 20.0, 1.0, 1.0, 1, 0),  # out of range
        (775999999, "2024-01-01T00:00:00Z", 0.0, 0.0, 1.0, 1.0, 1, 0),  # zero
        (775999999, "2024-01-01T00:00:01Z", 1.0, 2.0, -1.0, 359.9, 359, 15),  # loaded
        (775999999, "2024-01-01T00:00:01Z", 1.5, 2.5, 5.0, 5.0, 5, 5),  # duplicate
    ]
    frame = pd.DataFrame(
        rows, columns=["mmsi", "ts", "lat", "lon", "sog", "cog", "heading", "nav_status"]
    )
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    frame["line_no"] = np.arange(2, 2 + len(rows))
    frame["n_lines"] = 1
    frame["kind"] = "position"
    from pipeline.ingest.records import conform

    cleaned = clean(conform(frame), now=NOW)
    assert cleaned.rejects.set_index("line_no")["reason"].to_dict() == {
        3: "mmsi_out_of_range",
        4: "no_timestamp",
        5: "timestamp_out_of_range",
        6: "timestamp_out_of_range",
        7: "position_not_available",
        8: "position_out_of_range",
        9: "position_zero",
        11: "duplicate",
    }
    pos = cleaned.positions.set_index("line_no")
    assert pos.loc[2, ["sog", "cog"]].isna().all()
    assert pd.isna(pos.loc[2, "heading"]) and pd.isna(pos.loc[2, "nav_status"])
    assert pos.loc[10, ["sog", "cog", "heading", "nav_status"]].tolist()[1:] == [359.9, 359, 15]
    assert pd.isna(pos.loc[10, "sog"])
    assert cleaned.loaded_lines == 2
