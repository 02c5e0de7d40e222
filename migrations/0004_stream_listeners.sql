-- weir's stream_listeners objects: listeners added, changed and removed through the Admin API, the CLI or any
-- tool writing the file; a running weir binds them without a restart. Same row shape as the other resources.

CREATE TABLE stream_listeners (
  id             TEXT PRIMARY KEY,
  value          TEXT NOT NULL,
  create_time    INTEGER,
  update_time    INTEGER,
  created_index  INTEGER,
  modified_index INTEGER
);

-- Every changed row bumps the store revision, as for the other tables (0001_init.sql).
CREATE TRIGGER stream_listeners_ai AFTER INSERT ON stream_listeners BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'revision';
END;
CREATE TRIGGER stream_listeners_au AFTER UPDATE ON stream_listeners BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'revision';
END;
CREATE TRIGGER stream_listeners_ad AFTER DELETE ON stream_listeners BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'revision';
END;
