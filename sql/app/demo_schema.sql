-- The demo application's eight tables (docs/configuration.md): created only by `backupd demo-data` and
-- `backupd migrate --app-schema`, never by `migrate` or `serve` alone. Idempotent; not recorded as a migration.
CREATE TABLE IF NOT EXISTS cameras (
    id           text PRIMARY KEY,
    name         text NOT NULL UNIQUE,
    folder_path  text NOT NULL UNIQUE,
    status       text NOT NULL DEFAULT 'online'
                 CHECK (status IN ('online', 'offline', 'error', 'unknown')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz,
    deleted_at   timestamptz
);

CREATE TABLE IF NOT EXISTS events (
    id                 serial PRIMARY KEY,
    batch_id           text NOT NULL,
    camera_id          text NOT NULL REFERENCES cameras (id) ON DELETE CASCADE,
    started_at         timestamptz NOT NULL,
    ended_at           timestamptz,
    risk_score         integer CHECK (risk_score BETWEEN 0 AND 100),
    risk_level         text CHECK (risk_level IN ('low', 'medium', 'high', 'critical')),
    summary            text,
    reasoning          text,
    llm_prompt         text,
    notes              text,
    reviewed           boolean NOT NULL DEFAULT false,
    is_fast_path       boolean NOT NULL DEFAULT false,
    object_types       text,
    clip_path          text,
    search_vector      tsvector,
    deleted_at         timestamptz,
    snooze_until       timestamptz,
    entities           jsonb,
    flags              jsonb,
    confidence_factors jsonb,
    recommended_action text,
    flagged            boolean NOT NULL DEFAULT false,
    CONSTRAINT events_ended_after_started CHECK (ended_at >= started_at)
);
CREATE INDEX IF NOT EXISTS idx_events_camera_id ON events (camera_id);
CREATE INDEX IF NOT EXISTS idx_events_started_at ON events (started_at);
CREATE INDEX IF NOT EXISTS idx_events_search_vector ON events USING gin (search_vector);
CREATE INDEX IF NOT EXISTS idx_events_risk_level_started_at ON events (risk_level, started_at);

DO $$ BEGIN
    CREATE TYPE alert_severity AS ENUM ('low', 'medium', 'high', 'critical');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN
    CREATE TYPE alert_status AS ENUM ('pending', 'delivered', 'acknowledged', 'dismissed');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;

CREATE TABLE IF NOT EXISTS alerts (
    id           uuid PRIMARY KEY,
    event_id     integer NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    rule_id      uuid,
    severity     alert_severity NOT NULL DEFAULT 'medium',
    status       alert_status NOT NULL DEFAULT 'pending',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    channels     json,
    dedup_key    varchar(255) NOT NULL,
    metadata     json,
    version_id   integer NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS idx_alerts_event_id ON alerts (event_id);

DO $$ BEGIN
    CREATE TYPE zone_type AS ENUM ('entry_point', 'driveway', 'sidewalk', 'yard', 'other');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN
    CREATE TYPE zone_shape AS ENUM ('rectangle', 'polygon');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;

CREATE TABLE IF NOT EXISTS zones (
    id          text PRIMARY KEY,
    camera_id   text NOT NULL REFERENCES cameras (id) ON DELETE CASCADE,
    name        varchar(255) NOT NULL,
    zone_type   zone_type NOT NULL DEFAULT 'other',
    coordinates jsonb NOT NULL,
    shape       zone_shape NOT NULL DEFAULT 'rectangle',
    color       varchar(7) NOT NULL DEFAULT '#3B82F6' CHECK (color ~ '^#[0-9A-Fa-f]{6}$'),
    enabled     boolean NOT NULL DEFAULT true,
    priority    integer NOT NULL DEFAULT 0 CHECK (priority >= 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idx_zones_camera_id ON zones (camera_id);

CREATE TABLE IF NOT EXISTS prompts (
    id            serial PRIMARY KEY,
    model         varchar(50) NOT NULL UNIQUE,
    system_prompt text NOT NULL,
    temperature   double precision NOT NULL DEFAULT 0.7,
    max_tokens    integer NOT NULL DEFAULT 2048,
    version       integer NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS baselines (
    id           serial PRIMARY KEY,
    camera_id    text NOT NULL REFERENCES cameras (id) ON DELETE CASCADE,
    hour         integer NOT NULL CHECK (hour BETWEEN 0 AND 23),
    day_of_week  integer NOT NULL CHECK (day_of_week BETWEEN 0 AND 6),
    avg_count    double precision NOT NULL DEFAULT 0,
    sample_count integer NOT NULL DEFAULT 0,
    last_updated timestamptz NOT NULL DEFAULT now(),
    UNIQUE (camera_id, hour, day_of_week)
);

DO $$ BEGIN
    CREATE TYPE member_role AS ENUM ('resident', 'family', 'service_worker', 'frequent_visitor');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN
    CREATE TYPE trust_level AS ENUM ('full', 'partial', 'monitor');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;

CREATE TABLE IF NOT EXISTS household_members (
    id               serial PRIMARY KEY,
    name             varchar(100) NOT NULL,
    role             member_role NOT NULL,
    trusted_level    trust_level NOT NULL,
    typical_schedule jsonb,
    notes            text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS settings (
    key        varchar(64) PRIMARY KEY,
    value      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
