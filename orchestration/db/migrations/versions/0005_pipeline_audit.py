"""pipeline_events (audit trail and funnel) and pipeline_dlq (everything that failed).

Why: every stage leaves counts in ``pipeline_events`` (the funnel upload → dedupe → verified → fed →
replied → booked is a GROUP BY over it), and everything the pipeline could not process lands in
``pipeline_dlq`` with the reason, so nothing is lost silently.

``pipeline_events`` columns: ``event_type`` (what happened: upload_received, upload_refused, staged,
validated, merged, fed, ...), ``stage`` (which part of the pipeline), the ids it concerns (upload,
lead, broker, Dagster run), ``row_count``, ``duration_ms``, ``http_status`` (429/5xx from outside
services), ``details`` jsonb and ``created_at``.

Revision ID: 0005
Revises: 0004
"""
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE pipeline_events (
          id           bigserial PRIMARY KEY,
          event_type   text NOT NULL,
          stage        text,
          upload_id    text,
          lead_id      uuid,
          broker_id    uuid,
          run_id       text,
          row_count    bigint,
          duration_ms  bigint,
          http_status  integer,
          details      jsonb NOT NULL DEFAULT '{}',
          created_at   timestamptz NOT NULL DEFAULT now()
        );
        -- Funnel: counts per event type over time.
        CREATE INDEX pipeline_events_type_time_idx ON pipeline_events (event_type, created_at);
        CREATE INDEX pipeline_events_stage_time_idx ON pipeline_events (stage, created_at);
        CREATE INDEX pipeline_events_upload_idx ON pipeline_events (upload_id) WHERE upload_id IS NOT NULL;
        CREATE INDEX pipeline_events_lead_idx ON pipeline_events (lead_id) WHERE lead_id IS NOT NULL;
        CREATE INDEX pipeline_events_broker_time_idx ON pipeline_events (broker_id, created_at)
          WHERE broker_id IS NOT NULL;

        CREATE TABLE pipeline_dlq (
          id           bigserial PRIMARY KEY,
          source       text NOT NULL,
          payload      jsonb NOT NULL DEFAULT '{}',
          reason       text NOT NULL,
          attempts     integer NOT NULL DEFAULT 0,
          retry_after  timestamptz,
          resolved_at  timestamptz,
          created_at   timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX pipeline_dlq_source_time_idx ON pipeline_dlq (source, created_at);
        CREATE INDEX pipeline_dlq_retry_idx ON pipeline_dlq (retry_after)
          WHERE resolved_at IS NULL AND retry_after IS NOT NULL;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE IF EXISTS pipeline_dlq;
        DROP TABLE IF EXISTS pipeline_events;
        """
    )
