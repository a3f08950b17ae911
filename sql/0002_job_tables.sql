-- backupd's own job tables (seed §2). Never part of a backup, never touched by a restore.
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
