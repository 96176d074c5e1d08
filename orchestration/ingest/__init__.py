"""Signed uploads to leads, pure logic (no Dagster imports): signing and receipt at the door,
column profiles, the bounded CSV reader, validation (pandera), in-file grouping, second-chance
links, and the stages the ingest assets call (``pipeline``)."""
