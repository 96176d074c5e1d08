"""Ingest: one dynamic partition per accepted upload, from the landed file to merged leads."""
