DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
DROP TABLE event_horizons;
DROP TABLE events;
