DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
DROP FUNCTION uuid_v7();
DROP TABLE event_horizons;
DROP TABLE events;
