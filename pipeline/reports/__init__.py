"""Reported departures: claims from reports and news text, vessel identity, verdicts."""
