"""Brokers, leads, the campaign_status enum, constraints, dedupe and hot-path indexes, triggers.

Why: ``leads`` is the table every other part reads or writes (its table and column names are fixed: operators, brokers' tools and dashboards query them).
- Dedupe keys: ``mak`` (BatchData Master Address Key), ``apn`` scoped by ``property_state`` (an APN
  is unique only within a county/state) and ``addr_hash`` (SHA-256 of the normalised address).
  Their unique indexes are partial (``WHERE key IS NOT NULL``): NULLs never collide, and a lead
  with no MAK does not bloat the MAK index.
- ``leads_feeder_idx`` serves the morning feeder (queued/active leads with a verified phone, by
  score); ``leads_replies_idx`` the replies lookup.
- ``set_added_to_campaign_at`` stamps ``added_to_campaign_at`` when ``campaign_status`` becomes
  'active' and never overwrites an existing stamp; ``set_updated_at`` keeps ``updated_at`` honest.

Revision ID: 0002
Revises: 0001
"""
from alembic import op

from orchestration.db import sqlfiles

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TYPE campaign_status AS ENUM (
          'new', 'queued', 'active', 'replied', 'paused', 'unsubscribed', 'bounced',
          'do_not_contact', 'converted'
        );

        CREATE TABLE brokers (
          id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
          company_name        text NOT NULL,
          contact_name        text,
          email               text,
          phone               text,
          nmls_number         text UNIQUE,
          license_states      text[] NOT NULL DEFAULT '{}',
          territory_zip_codes text[] NOT NULL DEFAULT '{}',
          max_leads_per_week  integer NOT NULL DEFAULT 100 CHECK (max_leads_per_week >= 0),
          status              text NOT NULL DEFAULT 'active'
                              CHECK (status IN ('active', 'paused', 'inactive')),
          created_at          timestamptz NOT NULL DEFAULT now(),
          updated_at          timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX brokers_territory_zip_idx ON brokers USING gin (territory_zip_codes);

        CREATE TABLE leads (
          id                        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
          first_name                text,
          last_name                 text,
          email                     text,
          phone                     text,
          property_address          text,
          property_city             text,
          property_state            text,
          property_zip              text,
          property_value            numeric(14, 2),
          estimated_equity          numeric(14, 2),
          age                       integer,
          owner_occupied            boolean,
          source                    text,
          assigned_broker_id        uuid REFERENCES brokers (id) ON DELETE SET NULL,
          lead_score                integer NOT NULL DEFAULT 0,
          status                    text NOT NULL DEFAULT 'new',
          consent                   boolean NOT NULL DEFAULT false,
          consented_at              timestamptz,
          consent_method            text,
          email_verified            boolean NOT NULL DEFAULT false,
          phone_verified            boolean NOT NULL DEFAULT false,
          email_verification_codes  text[] NOT NULL DEFAULT '{}',
          phone_verification_codes  text[] NOT NULL DEFAULT '{}',
          campaign_status           campaign_status NOT NULL DEFAULT 'new',
          added_to_campaign_at      timestamptz,
          last_reply_at             timestamptz,
          current_sequence_step     integer NOT NULL DEFAULT 0,
          vapi_call_id              text,
          call_attempt_count        integer NOT NULL DEFAULT 0,
          melissa_payload           jsonb NOT NULL DEFAULT '{}',
          mak                       text,
          apn                       text,
          addr_hash                 text,
          created_at                timestamptz NOT NULL DEFAULT now(),
          updated_at                timestamptz NOT NULL DEFAULT now(),
          last_seen_at              timestamptz NOT NULL DEFAULT now(),
          CONSTRAINT consent_requires_timestamp CHECK (consent = false OR consented_at IS NOT NULL),
          CONSTRAINT lead_score_range CHECK (lead_score BETWEEN 0 AND 100)
        );

        -- NULL-safe dedupe keys: partial unique indexes, NULLs never match each other.
        CREATE UNIQUE INDEX leads_mak_key ON leads (mak) WHERE mak IS NOT NULL;
        CREATE UNIQUE INDEX leads_apn_state_key ON leads (apn, property_state) WHERE apn IS NOT NULL;
        CREATE UNIQUE INDEX leads_addr_hash_key ON leads (addr_hash) WHERE addr_hash IS NOT NULL;

        CREATE INDEX leads_assigned_broker_idx ON leads (assigned_broker_id);
        -- Feeder hot path: queued/active leads with a verified phone, best score first.
        CREATE INDEX leads_feeder_idx ON leads (lead_score DESC, id)
          WHERE campaign_status IN ('queued', 'active') AND phone_verified;
        -- Replies lookup: leads that replied, newest reply first.
        CREATE INDEX leads_replies_idx ON leads (last_reply_at DESC)
          WHERE last_reply_at IS NOT NULL;

        """
    )
    sqlfiles.apply("set_updated_at", "set_added_to_campaign_at")


def downgrade() -> None:
    op.execute(
        """
        -- CASCADE: dbt's views over leads depend on it; dbt rebuilds them on its next run.
        DROP TABLE IF EXISTS leads CASCADE;
        DROP TABLE IF EXISTS brokers CASCADE;
        DROP FUNCTION IF EXISTS set_added_to_campaign_at();
        DROP FUNCTION IF EXISTS set_updated_at();
        DROP TYPE IF EXISTS campaign_status;
        """
    )
