-- weir schema v4: stream_listeners objects: listeners added, changed and removed through the Admin API, the CLI or any
-- tool writing the file; a running weir binds them without a restart. Same row shape as the other resources.

CREATE TABLE stream_listeners (
  id             TEXT PRIMARY KEY,
  value          TEXT NOT NULL,
  create_time    INTEGER,
  update_time    INTEGER,
  created_index  INTEGER,
  modified_index INTEGER
);

-- Every insert, update and delete logs (resource, id) in the change log, like the other tables (0002_change_log.sql,
-- 0003_services_plugin_metadata.sql): hand edits reach a running weir.
CREATE TRIGGER stream_listeners_ai AFTER INSERT ON stream_listeners BEGIN INSERT INTO changes (resource, id) VALUES ('stream_listeners', NEW.id); END;
CREATE TRIGGER stream_listeners_au AFTER UPDATE ON stream_listeners BEGIN INSERT INTO changes (resource, id) SELECT 'stream_listeners', OLD.id UNION ALL SELECT 'stream_listeners', NEW.id WHERE NEW.id IS NOT OLD.id; END;
CREATE TRIGGER stream_listeners_ad AFTER DELETE ON stream_listeners BEGIN INSERT INTO changes (resource, id) VALUES ('stream_listeners', OLD.id); END;
