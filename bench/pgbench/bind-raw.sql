\set n :n + 1
\set id :base + :client_id * 3000 + :n
BEGIN;
UPDATE cards SET status = 'CREATED', account_id = 1001, customer_id = :id, version = version + 1, updated_at = now() WHERE id = :id AND status = 'UNBOUND';
INSERT INTO outbox (aggregate_id, type, payload, created_at) VALUES (:id, 'card.bound', '{"event":"card.bound","card_id":4111,"version":1,"status":"CREATED","occurred_at":"2026-12-06T23:13:14.888376Z","actor":{"type":"system","id":"card-lifecycle-service"},"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","reason":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}', now());
COMMIT;
