-- Requests, contacts, the audit trail, incidents, crews, feedback and asset layers.
CREATE TABLE crews (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    skills TEXT NOT NULL DEFAULT '[]',
    depot_lon REAL,
    depot_lat REAL,
    shift_start TEXT NOT NULL DEFAULT '07:00',
    shift_end TEXT NOT NULL DEFAULT '17:00',
    status TEXT NOT NULL DEFAULT 'available',
    created_at TEXT NOT NULL
);

CREATE TABLE incidents (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    service_code TEXT NOT NULL,
    status TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    group_key TEXT,
    priority REAL NOT NULL DEFAULT 0,
    customers_affected INTEGER NOT NULL DEFAULT 0,
    details TEXT NOT NULL DEFAULT '{}',
    area_geojson TEXT,
    crew_id INTEGER REFERENCES crews(id),
    eta_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    resolved_at TEXT
);
CREATE INDEX incidents_status ON incidents(status);

CREATE TABLE requests (
    id INTEGER PRIMARY KEY,
    tracking TEXT NOT NULL UNIQUE,
    service_code TEXT NOT NULL,
    channel TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    address TEXT,
    lon REAL,
    lat REAL,
    location_source TEXT NOT NULL,
    asset_layer TEXT,
    asset_id TEXT,
    snap_distance_m REAL,
    is_flagged INTEGER NOT NULL DEFAULT 0,
    flag_reason TEXT,
    attributes TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    incident_id INTEGER REFERENCES incidents(id),
    duplicate_of INTEGER REFERENCES requests(id),
    idempotency_key TEXT UNIQUE,
    expected_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    resolved_at TEXT,
    CHECK ((lon IS NULL) = (lat IS NULL))
);
CREATE INDEX requests_status ON requests(status);
CREATE INDEX requests_created ON requests(created_at);
CREATE INDEX requests_incident ON requests(incident_id);

CREATE VIRTUAL TABLE requests_rtree USING rtree(id, min_lon, max_lon, min_lat, max_lat);

CREATE TRIGGER requests_rtree_insert AFTER INSERT ON requests
WHEN new.lon IS NOT NULL
BEGIN
    INSERT INTO requests_rtree VALUES (new.id, new.lon, new.lon, new.lat, new.lat);
END;

CREATE TRIGGER requests_rtree_update AFTER UPDATE OF lon, lat ON requests
BEGIN
    DELETE FROM requests_rtree WHERE id = old.id;
    INSERT INTO requests_rtree
        SELECT new.id, new.lon, new.lon, new.lat, new.lat WHERE new.lon IS NOT NULL;
END;

CREATE TRIGGER requests_rtree_delete AFTER DELETE ON requests
BEGIN
    DELETE FROM requests_rtree WHERE id = old.id;
END;

CREATE TABLE contacts (
    request_id INTEGER PRIMARY KEY REFERENCES requests(id) ON DELETE CASCADE,
    name TEXT,
    phone TEXT,
    email TEXT
);

CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    request_id INTEGER NOT NULL REFERENCES requests(id),
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    is_public INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX events_request ON events(request_id, id);

-- the audit trail is append-only
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;

CREATE TABLE feedback (
    request_id INTEGER PRIMARY KEY REFERENCES requests(id),
    rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);

CREATE TABLE layers (
    kind TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    feature_count INTEGER NOT NULL,
    report TEXT NOT NULL DEFAULT '',
    loaded_at TEXT NOT NULL
);

CREATE TABLE assets (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL REFERENCES layers(kind) ON DELETE CASCADE,
    asset_id TEXT NOT NULL,
    properties TEXT NOT NULL DEFAULT '{}',
    geom BLOB NOT NULL,
    UNIQUE (kind, asset_id)
);

CREATE VIRTUAL TABLE assets_rtree USING rtree(id, min_lon, max_lon, min_lat, max_lat);
CREATE TRIGGER assets_rtree_delete AFTER DELETE ON assets
BEGIN
    DELETE FROM assets_rtree WHERE id = old.id;
END;
