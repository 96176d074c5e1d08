"""The dashboards group: a chart, a table and plain figures per dashboard mart, refreshed by the
05:30 refresh and after each ingest."""
