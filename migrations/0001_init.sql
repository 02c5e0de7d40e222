-- weir schema v1: the three Admin API resources, the store revision and the POST id counter.
-- `value` holds the object as the Admin API returns it (JSON text: what the user sent plus id and timestamps).
-- Rows are read ordered by id (BINARY collation = byte order), which is also the route precedence order.

CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) STRICT;

-- revision: bumped by the triggers below on every committed change, whoever made it.
-- post_id:  the last id handed out by POST (APISIX's 20-digit zero-padded counter).
INSERT INTO meta (key, value) VALUES ('revision', 0), ('post_id', 0);

CREATE TABLE stream_routes (
  id             TEXT PRIMARY KEY,
  value          TEXT NOT NULL,
  create_time    INTEGER,
  update_time    INTEGER,
  created_index  INTEGER,
  modified_index INTEGER,
  -- upstream_id may be stored as a JSON number (ids can be integers); compare it as text.
  upstream_id    TEXT GENERATED ALWAYS AS (CAST(json_extract(value, '$.upstream_id') AS TEXT)) VIRTUAL
);
CREATE INDEX stream_routes_by_upstream_id ON stream_routes (upstream_id) WHERE upstream_id IS NOT NULL;

CREATE TABLE upstreams (
  id             TEXT PRIMARY KEY,
  value          TEXT NOT NULL,
  create_time    INTEGER,
  update_time    INTEGER,
  created_index  INTEGER,
  modified_index INTEGER
);

CREATE TABLE ssls (
  id             TEXT PRIMARY KEY,
  value          TEXT NOT NULL,
  create_time    INTEGER,
  update_time    INTEGER,
  created_index  INTEGER,
  modified_index INTEGER
);

-- One bump per changed row, so rows edited by hand with the sqlite3 shell (or any other process)
-- change the revision too; the proxy polls it to notice writes it did not make.
CREATE TRIGGER stream_routes_ai AFTER INSERT ON stream_routes BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'revision';
END;
CREATE TRIGGER stream_routes_au AFTER UPDATE ON stream_routes BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'revision';
END;
CREATE TRIGGER stream_routes_ad AFTER DELETE ON stream_routes BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'revision';
END;

CREATE TRIGGER upstreams_ai AFTER INSERT ON upstreams BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'revision';
END;
CREATE TRIGGER upstreams_au AFTER UPDATE ON upstreams BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'revision';
END;
CREATE TRIGGER upstreams_ad AFTER DELETE ON upstreams BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'revision';
END;

CREATE TRIGGER ssls_ai AFTER INSERT ON ssls BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'revision';
END;
CREATE TRIGGER ssls_au AFTER UPDATE ON ssls BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'revision';
END;
CREATE TRIGGER ssls_ad AFTER DELETE ON ssls BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'revision';
END;
