CREATE TABLE cardcore_reasons (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  org_id TEXT NOT NULL,
  description TEXT NOT NULL,
  type TEXT NOT NULL,
  must_block BOOLEAN NOT NULL,
  must_charge BOOLEAN NOT NULL,
  cost TEXT NOT NULL,
  enabled BOOLEAN NOT NULL,
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL
);
--bun:split
CREATE INDEX cardcore_reasons_org ON cardcore_reasons (org_id, id);
--bun:split
CREATE TABLE cardcore_bulks (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL,
  program_id INTEGER NOT NULL,
  status TEXT NOT NULL,
  external_ids INTEGER NOT NULL,
  pin_length INTEGER NOT NULL,
  contactless_enabled BOOLEAN NOT NULL,
  version INTEGER NOT NULL,
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL
);
--bun:split
CREATE TABLE cardcore_bulk_external_ids (
  bulk_id TEXT NOT NULL,
  position INTEGER NOT NULL,
  external_id TEXT NOT NULL,
  PRIMARY KEY (bulk_id, position)
);
--bun:split
CREATE UNIQUE INDEX cardcore_bulk_external_ids_unique ON cardcore_bulk_external_ids (bulk_id, external_id);
--bun:split
CREATE INDEX cardcore_cards_bulk_status ON cardcore_cards (bulk_id, status, id) WHERE bulk_id IS NOT NULL;
