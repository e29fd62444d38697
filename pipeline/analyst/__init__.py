"""Analyst layer: read-only role, PostGIS status, evidence pages and transit charts."""
