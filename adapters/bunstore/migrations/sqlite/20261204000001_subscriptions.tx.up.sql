CREATE TABLE cardcore_subscriptions (
  name TEXT PRIMARY KEY,
  cursor INTEGER NOT NULL DEFAULT 0 CHECK (cursor >= 0),
  holder TEXT,
  token INTEGER NOT NULL DEFAULT 0,
  expires_at TIMESTAMP,
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL
);
