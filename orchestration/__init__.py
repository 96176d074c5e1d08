"""equity-connect: the Dagster code location and its pure-logic helpers.

Nothing here does work at import time: no database connection, no dbt parsing.
"""
