"""Geofences and event detection: chokepoint crossings, AIS gaps, port calls."""
