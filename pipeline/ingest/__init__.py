"""AIS ingest: one reader per input format -> canonical records -> clean -> PostgreSQL.

Readers (pure, no database): `noaa`, `dma`, `nmea`, `tabular` (CSV / Parquet with a column
mapping), chosen by `sniff.detect`. `clean.clean` applies the rules; `load.ingest_file` loads
one file in one transaction; `identity` keeps vessel_identity (SCD-2) and voyage_reports.
"""
