ALTER TABLE cardcore_cards DROP COLUMN password_tries;
