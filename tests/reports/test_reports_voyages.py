"""The voyages view: port -> ordered chokepoint passages -> next port, per vessel."""

from __future__ import annotations

from .conftest import Events

SPARTA = 273351920


def test_voyages_view(events: Events) -> None:
    events.port_call(SPARTA, "SYTTS", "2025-01-21T00:00", "2025-01-26T04:12")
    events.crossing(SPARTA, "dover", "2025-02-12T21:00", "northbound")
    events.crossing(SPARTA, "gibraltar", "2025-02-09T06:10", "westbound", inferred=True)
    events.port_call(SPARTA, "RULED", "2025-02-22T13:05", "2025-03-01T08:00")
    events.crossing(SPARTA, "gibraltar", "2025-01-10T12:00", "eastbound")  # before Tartus
    events.crossing(273000009, "dover", "2025-02-01T00:00", "southbound")  # never in port
    rows = events.conn.execute(
        "SELECT mmsi, voyage_no, from_port_id, to_port_id, route, n_passages, n_inferred "
        "FROM straitwatch.voyages ORDER BY mmsi, voyage_no"
    ).fetchall()
    assert rows == [
        (273000009, 0, None, None, "? -> dover southbound -> ?", 1, 0),
        (SPARTA, 0, None, "SYTTS", "? -> gibraltar eastbound -> SYTTS", 1, 0),
        (
            SPARTA,
            1,
            "SYTTS",
            "RULED",
            "SYTTS -> gibraltar westbound (dark) -> dover northbound -> RULED",
            2,
            1,
        ),
        (SPARTA, 2, "RULED", None, "RULED -> ?", 0, 0),
    ]
    passages = events.conn.execute(
        "SELECT passages FROM straitwatch.voyages WHERE mmsi = %s AND voyage_no = 1", (SPARTA,)
    ).fetchone()[0]
    assert [p["chokepoint_id"] for p in passages] == ["gibraltar", "dover"]
