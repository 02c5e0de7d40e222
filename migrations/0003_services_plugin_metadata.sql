-- weir schema v3: services (plugins and an upstream shared by the stream routes that name them by service_id)
-- and plugin_metadata (settings shared by every instance of one plugin; the id is the plugin's name).
-- Same row shape as the v1 tables; their triggers log to the change log (0002), so hand edits reach a running weir.

CREATE TABLE services (
  id             TEXT PRIMARY KEY,
  value          TEXT NOT NULL,
  create_time    INTEGER,
  update_time    INTEGER,
  created_index  INTEGER,
  modified_index INTEGER,
  upstream_id    TEXT GENERATED ALWAYS AS (CAST(json_extract(value, '$.upstream_id') AS TEXT)) VIRTUAL
);
CREATE INDEX services_by_upstream_id ON services (upstream_id) WHERE upstream_id IS NOT NULL;

CREATE TABLE plugin_metadata (
  id             TEXT PRIMARY KEY,
  value          TEXT NOT NULL,
  create_time    INTEGER,
  update_time    INTEGER,
  created_index  INTEGER,
  modified_index INTEGER
);

-- a service may not be deleted while a route names it: found by index, like upstream_id
ALTER TABLE stream_routes ADD COLUMN service_id TEXT GENERATED ALWAYS AS (CAST(json_extract(value, '$.service_id') AS TEXT)) VIRTUAL;
CREATE INDEX stream_routes_by_service_id ON stream_routes (service_id) WHERE service_id IS NOT NULL;

-- hand edits reach a running weir through the change log, like the v1 tables' rows since 0002
CREATE TRIGGER services_ai AFTER INSERT ON services BEGIN INSERT INTO changes (resource, id) VALUES ('services', NEW.id); END;
CREATE TRIGGER services_au AFTER UPDATE ON services BEGIN INSERT INTO changes (resource, id) SELECT 'services', OLD.id UNION ALL SELECT 'services', NEW.id WHERE NEW.id IS NOT OLD.id; END;
CREATE TRIGGER services_ad AFTER DELETE ON services BEGIN INSERT INTO changes (resource, id) VALUES ('services', OLD.id); END;
CREATE TRIGGER plugin_metadata_ai AFTER INSERT ON plugin_metadata BEGIN INSERT INTO changes (resource, id) VALUES ('plugin_metadata', NEW.id); END;
CREATE TRIGGER plugin_metadata_au AFTER UPDATE ON plugin_metadata BEGIN INSERT INTO changes (resource, id) SELECT 'plugin_metadata', OLD.id UNION ALL SELECT 'plugin_metadata', NEW.id WHERE NEW.id IS NOT OLD.id; END;
CREATE TRIGGER plugin_metadata_ad AFTER DELETE ON plugin_metadata BEGIN INSERT INTO changes (resource, id) VALUES ('plugin_metadata', OLD.id); END;
