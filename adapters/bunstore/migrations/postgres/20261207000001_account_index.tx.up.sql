-- cardcore_cards_account leads with account_id, no longer with org_id. For
-- an org that PostgreSQL's statistics do not know yet (its cards came after
-- the last ANALYZE), an index that leads with org_id looks as cheap as the
-- primary key or the token's index, and the planner chose it: every read
-- of a card by id, by token, and the due sweeps of that org went through
-- all the org's entries (33 ms instead of 0.8 for a card of a 100,000-card
-- org). Listing an account's cards reads it as before (org_id and
-- account_id bound, then id in order). Writes to cardcore_cards wait while
-- it builds: 2.4 s for 1,200,000 cards on the 2-core machine of 2026-12-07.
DROP INDEX cardcore_cards_account;
--bun:split
CREATE INDEX cardcore_cards_account ON cardcore_cards (account_id, org_id, id);
