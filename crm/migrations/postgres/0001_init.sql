-- Requests, contacts, the audit trail, incidents, crews, feedback and asset layers.
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TABLE crews (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    skills TEXT NOT NULL DEFAULT '[]',
    depot_lon DOUBLE PRECISION,
    depot_lat DOUBLE PRECISION,
    shift_start TEXT NOT NULL DEFAULT '07:00',
    shift_end TEXT NOT NULL DEFAULT '17:00',
    status TEXT NOT NULL DEFAULT 'available',
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE incidents (
    id BIGSERIAL PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    service_code TEXT NOT NULL,
    status TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    group_key TEXT,
    priority DOUBLE PRECISION NOT NULL DEFAULT 0,
    customers_affected INTEGER NOT NULL DEFAULT 0,
    details TEXT NOT NULL DEFAULT '{}',
    area_geojson TEXT,
    area geometry(Geometry, 4326)
        GENERATED ALWAYS AS (ST_SetSRID(ST_GeomFromGeoJSON(area_geojson), 4326)) STORED,
    crew_id BIGINT REFERENCES crews(id),
    eta_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    resolved_at TIMESTAMPTZ
);
CREATE INDEX incidents_status ON incidents(status);
CREATE INDEX incidents_area ON incidents USING gist (area);

CREATE TABLE requests (
    id BIGSERIAL PRIMARY KEY,
    tracking TEXT NOT NULL UNIQUE,
    service_code TEXT NOT NULL,
    channel TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    address TEXT,
    lon DOUBLE PRECISION,
    lat DOUBLE PRECISION,
    geom geometry(Point, 4326)
        GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)) STORED,
    location_source TEXT NOT NULL,
    asset_layer TEXT,
    asset_id TEXT,
    snap_distance_m DOUBLE PRECISION,
    is_flagged BOOLEAN NOT NULL DEFAULT false,
    flag_reason TEXT,
    attributes TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    incident_id BIGINT REFERENCES incidents(id),
    duplicate_of BIGINT REFERENCES requests(id),
    idempotency_key TEXT UNIQUE,
    expected_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    resolved_at TIMESTAMPTZ,
    CHECK ((lon IS NULL) = (lat IS NULL))
);
CREATE INDEX requests_status ON requests(status);
CREATE INDEX requests_created ON requests(created_at);
CREATE INDEX requests_incident ON requests(incident_id);
CREATE INDEX requests_geom ON requests USING gist (geom);

CREATE TABLE contacts (
    request_id BIGINT PRIMARY KEY REFERENCES requests(id) ON DELETE CASCADE,
    name TEXT,
    phone TEXT,
    email TEXT
);

CREATE TABLE events (
    id BIGSERIAL PRIMARY KEY,
    request_id BIGINT NOT NULL REFERENCES requests(id),
    at TIMESTAMPTZ NOT NULL,
    actor TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    is_public BOOLEAN NOT NULL DEFAULT true
);
CREATE INDEX events_request ON events(request_id, id);

-- the audit trail is append-only
CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only';
END;
$$;
CREATE TRIGGER events_no_change BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_append_only();

CREATE TABLE feedback (
    request_id BIGINT PRIMARY KEY REFERENCES requests(id),
    rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE layers (
    kind TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    feature_count INTEGER NOT NULL,
    report TEXT NOT NULL DEFAULT '',
    loaded_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE assets (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL REFERENCES layers(kind) ON DELETE CASCADE,
    asset_id TEXT NOT NULL,
    properties TEXT NOT NULL DEFAULT '{}',
    geom geometry(Geometry, 4326) NOT NULL,
    UNIQUE (kind, asset_id)
);
CREATE INDEX assets_geom ON assets USING gist (geom);
