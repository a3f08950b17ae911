-- backupd's layout before schema backupd existed (its migrations 0002-0004, as released): job, schedule
-- and drill tables in public, recorded in public.backupd_migrations. Used by tests/test_app_schema.py.
CREATE TABLE public.backupd_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());
-- backupd's own job tables (docs/rest-api.md). Never part of a backup, never touched by a restore.
DO $$ BEGIN
    CREATE TYPE backup_job_status AS ENUM ('pending', 'running', 'completed', 'failed');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN
    CREATE TYPE restore_job_status AS ENUM ('pending', 'validating', 'restoring', 'completed', 'failed');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;

CREATE TABLE IF NOT EXISTS backup_jobs (
    id               uuid PRIMARY KEY,
    status           backup_job_status NOT NULL DEFAULT 'pending',
    total_tables     integer NOT NULL DEFAULT 8,
    completed_tables integer NOT NULL DEFAULT 0,
    progress_percent integer NOT NULL DEFAULT 0,
    current_step     varchar(255),
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    completed_at     timestamptz,
    file_path        varchar(512),
    file_size_bytes  bigint,
    manifest_json    jsonb,
    error_message    text,
    CONSTRAINT ck_backup_progress_range CHECK (progress_percent >= 0 AND progress_percent <= 100)
);
CREATE INDEX IF NOT EXISTS idx_backup_jobs_status ON backup_jobs (status);
CREATE INDEX IF NOT EXISTS idx_backup_jobs_created_at ON backup_jobs (created_at);

CREATE TABLE IF NOT EXISTS restore_jobs (
    id                uuid PRIMARY KEY,
    status            restore_job_status NOT NULL DEFAULT 'pending',
    backup_id         varchar(64),
    backup_created_at timestamptz,
    total_tables      integer NOT NULL DEFAULT 8,
    completed_tables  integer NOT NULL DEFAULT 0,
    progress_percent  integer NOT NULL DEFAULT 0,
    current_step      varchar(255),
    created_at        timestamptz NOT NULL DEFAULT now(),
    started_at        timestamptz,
    completed_at      timestamptz,
    items_restored    jsonb,
    error_message     text,
    CONSTRAINT ck_restore_progress_range CHECK (progress_percent >= 0 AND progress_percent <= 100)
);
CREATE INDEX IF NOT EXISTS idx_restore_jobs_status ON restore_jobs (status);
CREATE INDEX IF NOT EXISTS idx_restore_jobs_created_at ON restore_jobs (created_at);
-- Automatic backups, retention, pinning and restore drills (docs/operations.md). backupd's own tables:
-- never part of a backup, never touched by a restore. Idempotent like the others.

-- Why a backup was made (manual: the API or page; schedule: the scheduler; safety: before a restore)
-- and whether retention must leave it alone.
ALTER TABLE backup_jobs ADD COLUMN IF NOT EXISTS trigger varchar(16) NOT NULL DEFAULT 'manual';
ALTER TABLE backup_jobs ADD COLUMN IF NOT EXISTS pinned boolean NOT NULL DEFAULT false;
DO $$ BEGIN
    ALTER TABLE backup_jobs ADD CONSTRAINT ck_backup_trigger CHECK (trigger IN ('manual', 'schedule', 'safety'));
EXCEPTION WHEN duplicate_object THEN NULL; END $$;

-- Settings changed through PUT /api/schedule: one row; a NULL column means "the environment's value".
CREATE TABLE IF NOT EXISTS backupd_schedule (
    id           boolean PRIMARY KEY DEFAULT true CHECK (id),
    schedule     text,
    timezone     text,
    keep_last    integer CHECK (keep_last >= 0),
    keep_daily   integer CHECK (keep_daily >= 0),
    keep_weekly  integer CHECK (keep_weekly >= 0),
    keep_monthly integer CHECK (keep_monthly >= 0),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Since when each kind of schedule ('backup', 'drill') has been in force, as "<cron>|<zone>":
-- only times after `since` are due, so a new or changed schedule never catches up on the past.
CREATE TABLE IF NOT EXISTS schedule_anchors (
    kind  varchar(16) PRIMARY KEY,
    spec  text NOT NULL,
    since timestamptz NOT NULL
);

-- One row per scheduled time that was started: the primary key is what makes a time run once
-- however many replicas see it due (INSERT ... ON CONFLICT DO NOTHING, in the job's transaction).
CREATE TABLE IF NOT EXISTS schedule_slots (
    kind          varchar(16) NOT NULL,
    scheduled_for timestamptz NOT NULL,
    claimed_at    timestamptz NOT NULL DEFAULT now(),
    job_id        uuid NOT NULL,
    PRIMARY KEY (kind, scheduled_for)
);

-- Restore drills run by the service, kept as a history.
CREATE TABLE IF NOT EXISTS drill_runs (
    id            uuid PRIMARY KEY,
    backup_id     uuid NOT NULL,
    trigger       varchar(16) NOT NULL DEFAULT 'manual' CHECK (trigger IN ('manual', 'schedule')),
    status        varchar(16) NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'passed', 'failed')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    completed_at  timestamptz,
    tables        jsonb NOT NULL DEFAULT '{}',
    error_message text
);
CREATE INDEX IF NOT EXISTS idx_drill_runs_created_at ON drill_runs (created_at);
CREATE INDEX IF NOT EXISTS idx_drill_runs_backup_id ON drill_runs (backup_id);
-- Restores of saved backups (docs/restore-guarantees.md): dry runs, table subsets, the safety backup, what changed.
ALTER TABLE restore_jobs ADD COLUMN IF NOT EXISTS dry_run boolean NOT NULL DEFAULT false;
ALTER TABLE restore_jobs ADD COLUMN IF NOT EXISTS tables text[];
ALTER TABLE restore_jobs ADD COLUMN IF NOT EXISTS safety_backup_id uuid;
ALTER TABLE restore_jobs ADD COLUMN IF NOT EXISTS changes jsonb;
INSERT INTO public.backupd_migrations (name) VALUES ('0001_app_schema.sql'), ('0002_job_tables.sql'),
    ('0003_schedules_retention_drills.sql'), ('0004_restore_options.sql');
