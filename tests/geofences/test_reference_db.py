"""`load_reference` and `straitwatch load-reference` on a real PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from pipeline import cli, db
from pipeline.errors import StraitwatchError
from pipeline.geo.geofences import GeofenceError
from pipeline.geo.reference import load_reference

TABLES = {
    "chokepoints": "chokepoint_id",
    "chokepoint_gates": "chokepoint_id, gate",
    "ports": "port_id",
}


def snapshot(conn: psycopg.Connection) -> dict[str, list[tuple]]:
    """Every row of the reference tables, in key order, with their row versions (xmin)."""
    return {
        table: conn.execute(
            f"SELECT xmin::text, t.* FROM straitwatch.{table} AS t ORDER BY {key}"
        ).fetchall()
        for table, key in TABLES.items()
    }


def changes(counts: dict[str, int]) -> dict[str, int]:
    return {
        k: v
        for k, v in counts.items()
        if k.endswith(("_inserted", "_updated", "_deleted", "_kept")) and v
    }


def test_counts_match_the_seeds_and_a_rerun_changes_nothing(conn, chokepoints, gates, port_seed):
    first = load_reference(conn)
    assert first["chokepoints"] == len(chokepoints) == 37
    assert first["gates"] == len(gates) == 56
    assert first["ports"] == len(port_seed.ports) == 3307
    assert first["wpi_rows"] == 3803
    assert first["ports_skipped_no_locode"] == 459
    assert changes(first) == {
        "chokepoints_inserted": 37,
        "gates_inserted": 56,
        "ports_inserted": 3307,
    }
    before = snapshot(conn)
    assert {t: len(rows) for t, rows in before.items()} == {
        "chokepoints": 37,
        "chokepoint_gates": 56,
        "ports": 3307,
    }
    second = load_reference(conn)
    assert changes(second) == {}
    # not one row rewritten: same contents and the same row versions
    assert snapshot(conn) == before


def test_rows_hold_the_seed_values(conn):
    load_reference(conn)
    gib = conn.execute(
        "SELECT name, kind, first_direction, second_direction, side_a, side_b, portwatch_id, "
        "ref_lat, ref_lon, 'Straits of Gibraltar' = ANY(aliases) "
        "FROM straitwatch.chokepoints WHERE chokepoint_id = 'gibraltar'"
    ).fetchone()
    assert gib == (
        "Strait of Gibraltar", "strait", "eastbound", "westbound",
        "Atlantic Ocean (Gulf of Cádiz)", "Mediterranean Sea (Alboran Sea)", "chokepoint8",
        35.94227416, -5.754895722, True,
    )  # fmt: skip
    rows = conn.execute(
        "SELECT gate, seq, wkt, islands FROM straitwatch.chokepoint_gates "
        "WHERE chokepoint_id = 'gibraltar' ORDER BY seq"
    ).fetchall()
    assert rows[0] == ("outer", 1, "LINESTRING (-5.93 35.77, -6.02 36.2)", [])
    assert rows[1][:2] == ("inner", 2) and rows[1][3] == ["Monte Hacho (Ceuta)"]
    latakia = conn.execute(
        "SELECT name, country, radius_nm, locode_aliases, 'Latakia' = ANY(alternate_names) "
        "FROM straitwatch.ports WHERE port_id = 'SYLTK'"
    ).fetchone()
    assert latakia == ("Al Ladhiqiyah", "SY", 3.0, ["SYALD"], True)
    # a quote and a comma inside an array element survive the COPY
    names = conn.execute(
        "SELECT alternate_names FROM straitwatch.ports WHERE port_id = 'RULED'"
    ).fetchone()[0]
    assert "St. Petersburg" in names and "Leningrad" in names


def drop_gate(seeds: Path, chokepoint_id: str, gate: str) -> None:
    path = seeds / "geofences" / f"{chokepoint_id}.geojson"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["features"] = [f for f in doc["features"] if f["properties"].get("gate") != gate]
    for f in doc["features"]:
        if f["properties"]["role"] == "chokepoint":
            f["properties"]["ports_between"] = []  # with one gate nothing is between
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")


def add_crossing(conn: psycopg.Connection, chokepoint_id: str) -> None:
    conn.execute(
        "INSERT INTO straitwatch.chokepoint_crossings (crossing_id, mmsi, chokepoint_id, "
        "crossed_at, direction, prev_ts, prev_lat, prev_lon, next_ts, next_lat, next_lon) "
        "VALUES (%s, 273351920, %s, '2025-02-09 06:00Z', 'westbound', '2025-02-09 05:50Z', "
        "0, 0, '2025-02-09 06:10Z', 0, 0)",
        (f"x-{chokepoint_id}", chokepoint_id),
    )


def add_call(conn: psycopg.Connection, port_id: str) -> None:
    conn.execute(
        "INSERT INTO straitwatch.port_calls (port_call_id, mmsi, port_id, arrived_at) "
        "VALUES (%s, 273351920, %s, '2025-01-21Z')",
        (f"c-{port_id}", port_id),
    )


def test_a_reload_follows_the_seeds_but_keeps_what_events_reference(conn, seeds_copy):
    load_reference(conn, seeds_copy)
    add_crossing(conn, "mona")  # the Mona Passage has a detected passage
    add_call(conn, "SYTTS")  # Tartus has a port call
    conn.commit()

    drop_gate(seeds_copy, "gibraltar", "inner")
    for gone in ("mona", "windward"):
        (seeds_copy / "geofences" / f"{gone}.geojson").unlink()
    wpi = seeds_copy / "ports" / "wpi_ports.csv"
    lines = wpi.read_text(encoding="utf-8").splitlines(keepends=True)
    lines = [ln for ln in lines if ",SY TTS," not in ln and ",MA TNG," not in ln]
    wpi.write_text("".join(lines), encoding="utf-8")
    overrides = seeds_copy / "ports" / "port_overrides.csv"
    text = overrides.read_text(encoding="utf-8").replace("ESCEU,1.5,", "ESCEU,1.2,")
    text = "\n".join(ln for ln in text.splitlines() if not ln.startswith("SYTTS")) + "\n"
    overrides.write_text(text, encoding="utf-8")
    aliases = seeds_copy / "ports" / "port_aliases.csv"
    text = aliases.read_text(encoding="utf-8")
    aliases.write_text(
        "\n".join(ln for ln in text.splitlines() if not ln.startswith(("SYTTS", "MATNG"))) + "\n",
        encoding="utf-8",
    )

    counts = load_reference(conn, seeds_copy)
    assert changes(counts) == {
        "chokepoints_deleted": 1,  # windward, with its gate
        "chokepoints_kept": 1,  # mona: a crossing references it
        "gates_deleted": 3,  # gibraltar/inner, windward's and mona's gates
        "ports_updated": 1,  # Ceuta's radius
        "ports_deleted": 1,  # Tangier
        "ports_kept": 1,  # Tartus: a port call references it
    }
    assert counts["chokepoints"] == 35 and counts["gates"] == 53 and counts["ports"] == 3305
    ids = {r[0] for r in conn.execute("SELECT chokepoint_id FROM straitwatch.chokepoints")}
    assert "mona" in ids and "windward" not in ids
    assert conn.execute(
        "SELECT count(*) FROM straitwatch.chokepoint_gates WHERE chokepoint_id = 'mona'"
    ).fetchone() == (0,)
    assert conn.execute(
        "SELECT gate FROM straitwatch.chokepoint_gates WHERE chokepoint_id = 'gibraltar'"
    ).fetchall() == [("outer",)]
    assert conn.execute(
        "SELECT radius_nm FROM straitwatch.ports WHERE port_id = 'ESCEU'"
    ).fetchone() == (1.2,)
    # and again: nothing left to change, the referenced rows still kept
    assert changes(load_reference(conn, seeds_copy)) == {"chokepoints_kept": 1, "ports_kept": 1}


def test_gates_can_be_renamed_and_renumbered_in_one_load(conn, seeds_copy):
    load_reference(conn, seeds_copy)
    path = seeds_copy / "geofences" / "gibraltar.geojson"
    doc = json.loads(path.read_text(encoding="utf-8"))
    for f in doc["features"]:
        if f["properties"].get("gate") == "outer":
            f["properties"]["gate"] = "atlantic"  # same seq 1, new name
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    counts = load_reference(conn, seeds_copy)
    conn.commit()  # the deferred (chokepoint_id, seq) uniqueness is checked here
    assert changes(counts) == {"gates_inserted": 1, "gates_deleted": 1}


def test_it_runs_inside_the_callers_transaction(conn):
    conn.execute("SELECT 1")  # a transaction is now open
    load_reference(conn)
    assert conn.execute("SELECT count(*) FROM straitwatch.ports").fetchone()[0] == 3307
    conn.rollback()
    assert conn.execute("SELECT count(*) FROM straitwatch.ports").fetchone()[0] == 0


def test_a_bad_seed_loads_nothing(conn, seeds_copy):
    (seeds_copy / "geofences" / "gibraltar.geojson").write_text("{}", encoding="utf-8")
    with pytest.raises(GeofenceError, match=r"gibraltar\.geojson: expected a GeoJSON Feature"):
        load_reference(conn, seeds_copy)
    conn.rollback()
    assert conn.execute("SELECT count(*) FROM straitwatch.chokepoints").fetchone() == (0,)


def test_a_port_named_by_a_chokepoint_must_exist(conn, seeds_copy):
    wpi = seeds_copy / "ports" / "wpi_ports.csv"
    text = wpi.read_text(encoding="utf-8")
    wpi.write_text("".join(ln for ln in text.splitlines(keepends=True) if ",ES CEU," not in ln))
    overrides = seeds_copy / "ports" / "port_overrides.csv"
    text = overrides.read_text(encoding="utf-8")
    overrides.write_text("\n".join(ln for ln in text.splitlines() if "ESCEU" not in ln) + "\n")
    with pytest.raises(
        StraitwatchError,
        match=r"gibraltar\.geojson: property 'ports_between': ESCEU is not a port of seeds/ports",
    ):
        load_reference(conn, seeds_copy)


def test_the_cli_loads_and_reports(db_url, capsys):
    assert cli.main(["--database-url", db_url, "load-reference"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "seeds: 37 chokepoints, 56 gates, 3307 ports from 3803 World Port Index rows "
        "(496 skipped: no UN/LOCODE 459, malformed code 7, another country's code 5, "
        "duplicate code 25, bad position 0)",
        "chokepoints: 37 inserted, 0 updated, 0 deleted",
        "gates: 56 inserted, 0 updated, 0 deleted",
        "ports: 3307 inserted, 0 updated, 0 deleted",
    ]
    assert cli.main(["--database-url", db_url, "load-reference"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        "chokepoints: 0 inserted, 0 updated, 0 deleted",
        "gates: 0 inserted, 0 updated, 0 deleted",
        "ports: 0 inserted, 0 updated, 0 deleted",
    ]
    with db.connect(db_url) as check:
        assert check.execute("SELECT count(*) FROM straitwatch.chokepoint_gates").fetchone() == (
            56,
        )
