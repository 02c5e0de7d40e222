-- weir schema v4: fleet mode (issue 18). A data plane copies its objects from etcd into the object tables
-- (their created_index / modified_index then hold etcd's create_revision / mod_revision), and remembers here
-- which rows came from etcd and how far it has read, so it serves the last synced copy before etcd answers.

-- revision (last etcd revision applied), cluster_id, prefix, last_full_sync (unix ms), last_error
CREATE TABLE fleet_state (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

-- one row per object copied from etcd; a row whose modified_index no longer matches was written locally since
CREATE TABLE fleet_objects (
  resource     TEXT NOT NULL,
  id           TEXT NOT NULL,
  mod_revision INTEGER NOT NULL,
  PRIMARY KEY (resource, id)
) STRICT, WITHOUT ROWID;

-- any other write to a row (the CLI with --force, the sqlite3 shell) makes it local again: the sync loop
-- writes its fleet_objects row after the object row, so only its own writes stay marked as etcd's
CREATE TRIGGER stream_routes_fleet_au AFTER UPDATE ON stream_routes BEGIN DELETE FROM fleet_objects WHERE resource = 'stream_routes' AND id = OLD.id; END;
CREATE TRIGGER stream_routes_fleet_ad AFTER DELETE ON stream_routes BEGIN DELETE FROM fleet_objects WHERE resource = 'stream_routes' AND id = OLD.id; END;
CREATE TRIGGER upstreams_fleet_au AFTER UPDATE ON upstreams BEGIN DELETE FROM fleet_objects WHERE resource = 'upstreams' AND id = OLD.id; END;
CREATE TRIGGER upstreams_fleet_ad AFTER DELETE ON upstreams BEGIN DELETE FROM fleet_objects WHERE resource = 'upstreams' AND id = OLD.id; END;
CREATE TRIGGER ssls_fleet_au AFTER UPDATE ON ssls BEGIN DELETE FROM fleet_objects WHERE resource = 'ssls' AND id = OLD.id; END;
CREATE TRIGGER ssls_fleet_ad AFTER DELETE ON ssls BEGIN DELETE FROM fleet_objects WHERE resource = 'ssls' AND id = OLD.id; END;
CREATE TRIGGER services_fleet_au AFTER UPDATE ON services BEGIN DELETE FROM fleet_objects WHERE resource = 'services' AND id = OLD.id; END;
CREATE TRIGGER services_fleet_ad AFTER DELETE ON services BEGIN DELETE FROM fleet_objects WHERE resource = 'services' AND id = OLD.id; END;
CREATE TRIGGER plugin_metadata_fleet_au AFTER UPDATE ON plugin_metadata BEGIN DELETE FROM fleet_objects WHERE resource = 'plugin_metadata' AND id = OLD.id; END;
CREATE TRIGGER plugin_metadata_fleet_ad AFTER DELETE ON plugin_metadata BEGIN DELETE FROM fleet_objects WHERE resource = 'plugin_metadata' AND id = OLD.id; END;
