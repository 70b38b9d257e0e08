DROP TABLE cardcore_subscriptions;
