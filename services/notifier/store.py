"""The notifier's tables: one delivery per (event, recipient, channel), and every attempt."""

from __future__ import annotations

from salesops.db import Migration

MIGRATIONS = (
    Migration(
        "4001_deliveries",
        """
        CREATE TABLE deliveries (
            delivery_id text PRIMARY KEY,
            event_id text NOT NULL,
            event_type text NOT NULL,
            person_id text NOT NULL,
            channel text NOT NULL,
            robot_key text NOT NULL,
            recipient jsonb NOT NULL,
            message jsonb NOT NULL,
            urgent boolean NOT NULL,
            status text NOT NULL,      -- pending, held (quiet hours), sent, dead, digested
            attempts integer NOT NULL DEFAULT 0,
            next_attempt_at timestamptz NOT NULL,
            created_at timestamptz NOT NULL,
            sent_at timestamptz,
            last_reply text,
            traceparent text,
            UNIQUE (event_id, person_id, channel)
        );
        CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
        CREATE INDEX deliveries_held ON deliveries (person_id, channel) WHERE status = 'held';
        CREATE TABLE delivery_attempts (
            delivery_id text NOT NULL REFERENCES deliveries,
            attempt integer NOT NULL,
            attempted_at timestamptz NOT NULL,
            ok boolean NOT NULL,
            retryable boolean NOT NULL,
            status_code integer,
            provider_reply text NOT NULL,
            PRIMARY KEY (delivery_id, attempt)
        );
        -- What each robot sent in the last minute: the rate limit counts these.
        CREATE TABLE robot_sends (
            robot_key text NOT NULL,
            sent_at timestamptz NOT NULL
        );
        CREATE INDEX robot_sends_recent ON robot_sends (robot_key, sent_at);
        """,
    ),
    Migration(
        "4002_delivery_trace_attributes",
        # What the delivery is about (ticket id, stage, escalation level), put on the span of
        # each send so a trace search by ticket id finds the outgoing message too.
        "ALTER TABLE deliveries ADD COLUMN trace_attributes jsonb",
    ),
)
