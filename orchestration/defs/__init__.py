"""Dagster wiring: thin assets, resources, sensors and schedules over the pure logic."""
