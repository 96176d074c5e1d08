"""Pure ingest logic (no Dagster imports): signing, column profiles, normalisation, validation."""
