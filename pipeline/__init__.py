"""straitwatch: AIS ingest, maritime event detection and claim checking."""
