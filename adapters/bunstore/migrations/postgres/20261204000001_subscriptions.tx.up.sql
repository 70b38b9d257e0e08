CREATE TABLE cardcore_subscriptions (
  name text PRIMARY KEY,
  cursor bigint NOT NULL DEFAULT 0 CHECK (cursor >= 0),
  holder text,
  token bigint NOT NULL DEFAULT 0,
  expires_at timestamptz,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
