-- weir schema v2: a change log, so a reader that knows the objects at revision R can read only the rows
-- changed since R instead of every row (src/store/store.ts readChanges, src/snapshot/holder.ts).
-- Every insert, update and delete of an object row logs (resource, id); logging bumps the revision and
-- stamps the entry with it. Commits from any process (the CLI, the sqlite3 shell, config management) are
-- logged like the Admin API's. The log keeps the last 1000 revisions; a reader further behind reads everything.

-- A rowid table without a unique key: a revision set back by hand can never make a write fail here.
CREATE TABLE changes (
  revision INTEGER,
  resource TEXT NOT NULL,
  id       TEXT
);
CREATE INDEX changes_by_revision ON changes (revision);

-- One revision per logged row: bump, stamp the entry, drop what fell out of the window.
CREATE TRIGGER changes_ai AFTER INSERT ON changes BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'revision';
  UPDATE changes SET revision = (SELECT value FROM meta WHERE key = 'revision') WHERE rowid = NEW.rowid;
  DELETE FROM changes WHERE revision <= (SELECT value FROM meta WHERE key = 'revision') - 1000;
END;

-- v1's triggers bumped the revision themselves; now the log does. An update that renames a row logs the
-- old id and the new one (two revisions: one row went, one came).
DROP TRIGGER stream_routes_ai;
DROP TRIGGER stream_routes_au;
DROP TRIGGER stream_routes_ad;
DROP TRIGGER upstreams_ai;
DROP TRIGGER upstreams_au;
DROP TRIGGER upstreams_ad;
DROP TRIGGER ssls_ai;
DROP TRIGGER ssls_au;
DROP TRIGGER ssls_ad;
CREATE TRIGGER stream_routes_ai AFTER INSERT ON stream_routes BEGIN INSERT INTO changes (resource, id) VALUES ('stream_routes', NEW.id); END;
CREATE TRIGGER upstreams_ai AFTER INSERT ON upstreams BEGIN INSERT INTO changes (resource, id) VALUES ('upstreams', NEW.id); END;
CREATE TRIGGER ssls_ai AFTER INSERT ON ssls BEGIN INSERT INTO changes (resource, id) VALUES ('ssls', NEW.id); END;
CREATE TRIGGER stream_routes_au AFTER UPDATE ON stream_routes BEGIN INSERT INTO changes (resource, id) SELECT 'stream_routes', OLD.id UNION ALL SELECT 'stream_routes', NEW.id WHERE NEW.id IS NOT OLD.id; END;
CREATE TRIGGER upstreams_au AFTER UPDATE ON upstreams BEGIN INSERT INTO changes (resource, id) SELECT 'upstreams', OLD.id UNION ALL SELECT 'upstreams', NEW.id WHERE NEW.id IS NOT OLD.id; END;
CREATE TRIGGER ssls_au AFTER UPDATE ON ssls BEGIN INSERT INTO changes (resource, id) SELECT 'ssls', OLD.id UNION ALL SELECT 'ssls', NEW.id WHERE NEW.id IS NOT OLD.id; END;
CREATE TRIGGER stream_routes_ad AFTER DELETE ON stream_routes BEGIN INSERT INTO changes (resource, id) VALUES ('stream_routes', OLD.id); END;
CREATE TRIGGER upstreams_ad AFTER DELETE ON upstreams BEGIN INSERT INTO changes (resource, id) VALUES ('upstreams', OLD.id); END;
CREATE TRIGGER ssls_ad AFTER DELETE ON ssls BEGIN INSERT INTO changes (resource, id) VALUES ('ssls', OLD.id); END;
