\set n :n + 1
\set id :base + :client_id * 3000 + :n
\startpipeline
BEGIN ISOLATION LEVEL READ COMMITTED;
SELECT id, token, org_id, program_id, account_id, customer_id, type, mode, status, previous_status, name, printed_name, brand, bin, last4, pan_hash, issuing_date, expiration_date, activation_date, validity_period_hours, valid_until, track_number, reissued_card_id, bulk_id, external_id, synced, close_date, metadata, embossing_custom_field, embossing_group, pin_length, contactless_enabled, transaction_limit, template_id, cvv_rotation_interval_hours, password_tries, version, created_at, updated_at FROM cardcore_cards WHERE org_id = :org AND id = :id FOR UPDATE;
\endpipeline
WITH saved AS (UPDATE cardcore_cards SET account_id = '1001', customer_id = :id::text, status = 'CREATED', previous_status = 'UNBOUND', version = 2, updated_at = now(), bulk_status = 'CREATED' WHERE id = :id AND org_id = :org AND version = 1 RETURNING id) INSERT INTO cardcore_outbox (event_id, org_id, card_id, event_type, cid, occurred_at, data) SELECT gen_random_uuid()::text, :org, :id, 'bind_card-1', gen_random_uuid()::text, now(), '{"card_id":50219,"card_token":"3b470104-7f95-4cf2-b8b4-1b25ec75c77d","account_id":"1001","customer_id":"218","program_id":1,"card_status":"CREATED","card_previous_status":"UNBOUND","card_type":"PLASTIC","card_name":"PLASTIC","issuing_date":"2026-12-07T01:45:27Z","expiration_date":"3212","bulk_id":"bench-7cc1e5b77057b689","external_id":"218","track_number":1,"password_tries":0,"operation_type":"BIND","version":2}' FROM saved;
COMMIT;
