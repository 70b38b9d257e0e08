CREATE TABLE cardcore_cards (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  token TEXT NOT NULL,
  org_id TEXT NOT NULL,
  program_id INTEGER NOT NULL,
  account_id TEXT NOT NULL DEFAULT '',
  customer_id TEXT NOT NULL DEFAULT '',
  type TEXT NOT NULL,
  mode TEXT NOT NULL,
  status TEXT NOT NULL,
  previous_status TEXT NOT NULL DEFAULT '',
  name TEXT NOT NULL,
  printed_name TEXT NOT NULL DEFAULT '',
  brand TEXT NOT NULL DEFAULT '',
  bin TEXT NOT NULL DEFAULT '',
  last4 TEXT NOT NULL DEFAULT '',
  pan_hash TEXT NOT NULL DEFAULT '',
  issuing_date TIMESTAMP NOT NULL,
  expiration_date TIMESTAMP,
  activation_date TIMESTAMP,
  validity_period_hours INTEGER NOT NULL DEFAULT 0,
  valid_until TIMESTAMP,
  track_number INTEGER NOT NULL,
  reissued_card_id INTEGER,
  bulk_id TEXT,
  external_id TEXT,
  metadata TEXT,
  embossing_custom_field TEXT NOT NULL DEFAULT '',
  embossing_group TEXT NOT NULL DEFAULT '',
  pin_length INTEGER NOT NULL,
  contactless_enabled BOOLEAN NOT NULL,
  transaction_limit TEXT NOT NULL DEFAULT '',
  template_id TEXT NOT NULL DEFAULT '',
  cvv_rotation_interval_hours INTEGER,
  version INTEGER NOT NULL,
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL
);
--bun:split
CREATE UNIQUE INDEX cardcore_cards_token ON cardcore_cards (token);
--bun:split
CREATE INDEX cardcore_cards_account ON cardcore_cards (org_id, account_id, id);
--bun:split
CREATE UNIQUE INDEX cardcore_cards_successor ON cardcore_cards (org_id, reissued_card_id) WHERE reissued_card_id IS NOT NULL;
--bun:split
CREATE UNIQUE INDEX cardcore_cards_virtual_alias ON cardcore_cards (org_id, customer_id, name)
  WHERE type = 'VIRTUAL' AND status NOT IN ('LOST','ROBBED','THEFT','CANCELED','FRAUD','DAMAGED','EXPIRED','DELETED','BROKEN','DEFECT');
--bun:split
CREATE UNIQUE INDEX cardcore_cards_bulk ON cardcore_cards (bulk_id, external_id) WHERE bulk_id IS NOT NULL;
--bun:split
CREATE INDEX cardcore_cards_expiry ON cardcore_cards (expiration_date)
  WHERE status NOT IN ('LOST','ROBBED','THEFT','CANCELED','FRAUD','DAMAGED','EXPIRED','DELETED','BROKEN','DEFECT');
--bun:split
CREATE INDEX cardcore_cards_validity ON cardcore_cards (valid_until)
  WHERE status IN ('NORMAL','REISSUED','BLOCKED','PENDING','WARNING');
--bun:split
CREATE TABLE cardcore_outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL,
  org_id TEXT NOT NULL,
  card_id INTEGER,
  event_type TEXT NOT NULL,
  cid TEXT NOT NULL,
  occurred_at TIMESTAMP NOT NULL,
  data TEXT NOT NULL,
  published_at TIMESTAMP
);
--bun:split
CREATE INDEX cardcore_outbox_pending ON cardcore_outbox (seq) WHERE published_at IS NULL;
--bun:split
CREATE INDEX cardcore_outbox_card ON cardcore_outbox (card_id, seq);
--bun:split
CREATE TABLE cardcore_idempotency (
  org_id TEXT NOT NULL,
  scope TEXT NOT NULL,
  key TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  result BLOB,
  created_at TIMESTAMP NOT NULL,
  PRIMARY KEY (org_id, scope, key)
);
