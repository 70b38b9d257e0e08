CREATE TABLE cardcore_webhook_endpoints (
  id text PRIMARY KEY,
  org_id text NOT NULL,
  url text NOT NULL,
  event_types text NOT NULL,
  description text NOT NULL,
  secret text NOT NULL,
  enabled boolean NOT NULL,
  failing_since timestamptz,
  start_after bigint NOT NULL CHECK (start_after >= 0),
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
--bun:split
CREATE INDEX cardcore_webhook_endpoints_org ON cardcore_webhook_endpoints (org_id, created_at);
