CREATE TABLE cardcore_webhook_endpoints (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL,
  url TEXT NOT NULL,
  event_types TEXT NOT NULL,
  description TEXT NOT NULL,
  secret TEXT NOT NULL,
  enabled BOOLEAN NOT NULL,
  failing_since TIMESTAMP,
  start_after INTEGER NOT NULL CHECK (start_after >= 0),
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL
);
--bun:split
CREATE INDEX cardcore_webhook_endpoints_org ON cardcore_webhook_endpoints (org_id, created_at);
