\set id random(:lo, :hi)
BEGIN;
SELECT * FROM cards WHERE id = :id FOR UPDATE;
UPDATE cards SET status = CASE WHEN status = 'BLOCKED' THEN 'ACTIVE' ELSE 'BLOCKED' END, version = version + 1, updated_at = now() WHERE id = :id;
INSERT INTO outbox (aggregate_id, type, payload, created_at) VALUES (:id, 'card.status_changed', '{"event":"card.status_changed","card_id":4111,"version":2,"status":"BLOCKED","occurred_at":"2026-12-06T23:13:14.888376Z","actor":{"type":"system","id":"card-lifecycle-service"},"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","reason":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}', now());
COMMIT;
