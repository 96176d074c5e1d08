"""Keeping the pipeline healthy: health checks of the doors and the DLQ, alerts to webhooks, the
daily housekeeping (retention of what holds people's data)."""
