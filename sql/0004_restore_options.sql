-- Restores of saved backups (CONTRACT §11): dry runs, table subsets, the safety backup, what changed.
ALTER TABLE restore_jobs ADD COLUMN IF NOT EXISTS dry_run boolean NOT NULL DEFAULT false;
ALTER TABLE restore_jobs ADD COLUMN IF NOT EXISTS tables text[];
ALTER TABLE restore_jobs ADD COLUMN IF NOT EXISTS safety_backup_id uuid;
ALTER TABLE restore_jobs ADD COLUMN IF NOT EXISTS changes jsonb;
