DROP FUNCTION queue_deliveries(uuid, bigint[], uuid[], text[]);
