"""Tests against the real parts: the embedded PostgreSQL 18 (and PostgreSQL 15 where installed),
real Dagster runs, sensor ticks and schedule evaluations, real dbt builds, the HTTP doors on loopback."""
