DROP TABLE channel_slots;
