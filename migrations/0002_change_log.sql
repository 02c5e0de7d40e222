-- weir schema v2: a change log, so a reader that knows the objects at revision R can read only the rows
-- changed since R instead of every row (src/store/store.ts readChanges, src/snapshot/holder.ts).
-- The triggers that bump the revision now also log (revision, resource, id) in the same statement, so commits
-- from any process (the CLI, the sqlite3 shell, config management) are logged like the Admin API's.
-- The log keeps the last 1000 revisions; a reader further behind than that reads everything again.

-- A rowid table without a unique key: a revision set back by hand can never make a write fail here.
CREATE TABLE changes (
  revision INTEGER NOT NULL,
  resource TEXT NOT NULL,
  id       TEXT
);
CREATE INDEX changes_by_revision ON changes (revision);

-- The triggers of v1 are replaced, not added to: SQLite does not promise an order between two triggers on
-- the same event, and the log entry must carry the revision its own bump made.
DROP TRIGGER stream_routes_ai;
DROP TRIGGER stream_routes_au;
DROP TRIGGER stream_routes_ad;
DROP TRIGGER upstreams_ai;
DROP TRIGGER upstreams_au;
DROP TRIGGER upstreams_ad;
DROP TRIGGER ssls_ai;
DROP TRIGGER ssls_au;
DROP TRIGGER ssls_ad;

-- Per changed row: bump the revision, log the row under it, drop what fell out of the window.
-- An UPDATE that changes the id logs both ids (the old one is gone, the new one appeared).
CREATE TRIGGER stream_routes_ai AFTER INSERT ON stream_routes BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'revision';
  INSERT INTO changes SELECT value, 'stream_routes', NEW.id FROM meta WHERE key = 'revision';
  DELETE FROM changes WHERE revision <= (SELECT value FROM meta WHERE key = 'revision') - 1000;
END;
CREATE TRIGGER stream_routes_au AFTER UPDATE ON stream_routes BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'revision';
  INSERT INTO changes SELECT value, 'stream_routes', OLD.id FROM meta WHERE key = 'revision';
  INSERT INTO changes SELECT value, 'stream_routes', NEW.id FROM meta WHERE key = 'revision' AND NEW.id IS NOT OLD.id;
  DELETE FROM changes WHERE revision <= (SELECT value FROM meta WHERE key = 'revision') - 1000;
END;
CREATE TRIGGER stream_routes_ad AFTER DELETE ON stream_routes BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'revision';
  INSERT INTO changes SELECT value, 'stream_routes', OLD.id FROM meta WHERE key = 'revision';
  DELETE FROM changes WHERE revision <= (SELECT value FROM meta WHERE key = 'revision') - 1000;
END;

CREATE TRIGGER upstreams_ai AFTER INSERT ON upstreams BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'revision';
  INSERT INTO changes SELECT value, 'upstreams', NEW.id FROM meta WHERE key = 'revision';
  DELETE FROM changes WHERE revision <= (SELECT value FROM meta WHERE key = 'revision') - 1000;
END;
CREATE TRIGGER upstreams_au AFTER UPDATE ON upstreams BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'revision';
  INSERT INTO changes SELECT value, 'upstreams', OLD.id FROM meta WHERE key = 'revision';
  INSERT INTO changes SELECT value, 'upstreams', NEW.id FROM meta WHERE key = 'revision' AND NEW.id IS NOT OLD.id;
  DELETE FROM changes WHERE revision <= (SELECT value FROM meta WHERE key = 'revision') - 1000;
END;
CREATE TRIGGER upstreams_ad AFTER DELETE ON upstreams BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'revision';
  INSERT INTO changes SELECT value, 'upstreams', OLD.id FROM meta WHERE key = 'revision';
  DELETE FROM changes WHERE revision <= (SELECT value FROM meta WHERE key = 'revision') - 1000;
END;

CREATE TRIGGER ssls_ai AFTER INSERT ON ssls BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'revision';
  INSERT INTO changes SELECT value, 'ssls', NEW.id FROM meta WHERE key = 'revision';
  DELETE FROM changes WHERE revision <= (SELECT value FROM meta WHERE key = 'revision') - 1000;
END;
CREATE TRIGGER ssls_au AFTER UPDATE ON ssls BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'revision';
  INSERT INTO changes SELECT value, 'ssls', OLD.id FROM meta WHERE key = 'revision';
  INSERT INTO changes SELECT value, 'ssls', NEW.id FROM meta WHERE key = 'revision' AND NEW.id IS NOT OLD.id;
  DELETE FROM changes WHERE revision <= (SELECT value FROM meta WHERE key = 'revision') - 1000;
END;
CREATE TRIGGER ssls_ad AFTER DELETE ON ssls BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'revision';
  INSERT INTO changes SELECT value, 'ssls', OLD.id FROM meta WHERE key = 'revision';
  DELETE FROM changes WHERE revision <= (SELECT value FROM meta WHERE key = 'revision') - 1000;
END;
