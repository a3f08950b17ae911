-- Automatic backups, retention, pinning and restore drills (CONTRACT §9). backupd's own tables:
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
