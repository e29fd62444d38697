"""Paths of the sample files and a helper counting the ingest tables (shared by the tests)."""

from __future__ import annotations

from pathlib import Path

import psycopg

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NOAA = FIXTURES / "noaa_marinecadastre_2023-01-11_sample.csv"
DMA_HEAD = FIXTURES / "dma_aisdk_2018-06-01_head.csv"
DMA_INDEXED = FIXTURES / "dma_aisdk_2018-02-08_sample.csv"
DIGITRAFFIC = FIXTURES / "digitraffic_baltic_snapshots_2025-12.csv"
AEGEAN = FIXTURES / "aegean_sample.nmea"
AISHUB = FIXTURES / "aishub_sample.nmea"
RECEIVER_LOG = FIXTURES / "ingest" / "receiver_log.nmea"
SAMPLES = [NOAA, DMA_HEAD, DMA_INDEXED, DIGITRAFFIC, AEGEAN, AISHUB]

TABLES = ("ingested_files", "positions", "rejected_records", "vessel_identity", "voyage_reports")


def table_counts(conn: psycopg.Connection) -> dict[str, int]:
    counts = {
        t: conn.execute(f"SELECT count(*) FROM straitwatch.{t}").fetchone()[0] for t in TABLES
    }
    counts["partitions"] = conn.execute(
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'straitwatch.positions'::regclass"
    ).fetchone()[0]
    conn.commit()
    return counts
