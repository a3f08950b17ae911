// Backup job status
export type BackupJobStatus = 'pending' | 'running' | 'completed' | 'failed';
export type RestoreJobStatus = 'pending' | 'validating' | 'restoring' | 'completed' | 'failed';

// What started a backup (backupd addition): the page, the scheduler, or a restore's safety backup
export type BackupTrigger = 'manual' | 'schedule' | 'safety';

// Backup manifest (from backend)
export interface BackupContentInfo {
  count: number;
  checksum: string;
}

/** What a backup copied from the previous one (proved unchanged) and what it read (archive format 1.1). */
export interface BackupReuse {
  parts_reused: number;
  rows_reused: number;
  parts_read: number;
  rows_read: number;
}

export interface BackupManifest {
  backup_id: string;
  version: string;
  created_at: string; // ISO datetime
  app_version: string | null;
  contents: Record<string, BackupContentInfo>;
}

// Backup job
export interface BackupJobProgress {
  total_tables: number;
  completed_tables: number;
  progress_percent: number;
  current_step: string | null;
}

export interface BackupJob {
  id: string;
  status: BackupJobStatus;
  progress: BackupJobProgress;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  file_path: string | null;
  file_size_bytes: number | null;
  manifest: BackupManifest | null;
  error_message: string | null;
  /** backupd additions (docs/operations.md, §10). */
  trigger: BackupTrigger;
  pinned: boolean;
  /** Stored age-encrypted (`….zip.age`); its download is the encrypted bytes. */
  encrypted: boolean;
  /** What the backup noticed but did not fail on, e.g. a table referencing one outside the set. */
  warnings: string[];
  /** What it copied from the previous backup and what it read (null until completed, or not recorded). */
  reuse: BackupReuse | null;
}

export interface BackupListItem {
  id: string;
  created_at: string;
  file_size_bytes: number;
  status: BackupJobStatus;
  download_url: string | null;
  trigger: BackupTrigger;
  pinned: boolean;
  encrypted: boolean;
  reuse: BackupReuse | null;
}

export interface BackupListResponse {
  backups: BackupListItem[];
  total: number;
}

// Restore job
export interface RestoreJobProgress {
  total_tables: number;
  completed_tables: number;
  progress_percent: number;
  current_step: string | null;
}

export interface RestoreJob {
  id: string;
  status: RestoreJobStatus;
  progress: RestoreJobProgress;
  backup_id: string | null;
  backup_created_at: string | null;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  items_restored: Record<string, number> | null;
  error_message: string | null;
  /** backupd additions (docs/restore-guarantees.md). */
  dry_run: boolean;
  /** The tables replaced; null means every table of the archive. */
  tables: string[] | null;
  /** A completed backup (trigger "safety") of the rows this restore replaced: restoring it undoes it. */
  safety_backup_id: string | null;
  /** Per table, what the restore changes (or, for a dry run, would change). */
  changes: Record<string, TableChanges> | null;
}

/**
 * What a restore changes in one table, comparing the archive with the live table by primary key.
 * added: rows in the backup that are not live now (the restore brings them back);
 * removed: live rows that are not in the backup (the restore deletes them);
 * changed: same key, different values (the restore puts the backup's values back).
 */
export interface TableChanges {
  archive_rows: number;
  live_rows: number;
  added: number;
  removed: number;
  changed: number;
  unchanged: number;
}

/** Body of POST /api/backup/{id}/restore (and the upload's form fields); all optional. */
export interface RestoreOptions {
  /** Only these tables are replaced (each must be in the archive); omitted or null: all of them. */
  tables?: string[] | null;
  /** Back up the tables being replaced first (server default: true). */
  safety_backup?: boolean;
  /** Validate and stage, report `changes`, change nothing. */
  dry_run?: boolean;
}

// API responses
export interface BackupJobStartResponse {
  job_id: string;
  status: BackupJobStatus;
  message: string;
}

export interface RestoreJobStartResponse {
  job_id: string;
  status: RestoreJobStatus;
  message: string;
}

// ---------------------------------------------------------------------------
// Schedules, retention and restore drills (backupd additions, docs/operations.md)
// ---------------------------------------------------------------------------

export interface RetentionPolicy {
  keep_last: number;
  keep_daily: number;
  keep_weekly: number;
  keep_monthly: number;
}

export interface ScheduledBackupSummary {
  id: string;
  status: BackupJobStatus;
  created_at: string;
}

export interface ScheduleResponse {
  schedule: string; // five-field cron expression, or 'off'
  timezone: string; // IANA zone
  next_run_at: string | null;
  last_scheduled_backup: ScheduledBackupSummary | null;
  retention: RetentionPolicy;
  drill_schedule: string;
  next_drill_at: string | null;
  drill_configured: boolean;
}

/** PUT /api/schedule: any subset of the settable fields. */
export interface ScheduleUpdate {
  schedule?: string;
  timezone?: string;
  retention?: Partial<RetentionPolicy>;
}

export type DrillStatus = 'pending' | 'running' | 'passed' | 'failed';

export interface DrillTableResult {
  expected_rows: number;
  restored_rows: number | null;
  checksum_match: boolean;
}

export interface DrillResult {
  id: string;
  backup_id: string;
  status: DrillStatus;
  trigger: 'manual' | 'schedule';
  created_at: string | null;
  started_at: string | null;
  completed_at: string | null;
  tables: Record<string, DrillTableResult>;
  error_message: string | null;
}

export interface DrillListResponse {
  drills: DrillResult[];
  total: number;
}

export interface DrillStartResponse {
  drill_id: string;
  status: DrillStatus;
}

/** What a key may do (docs/rest-api.md#roles). */
export type Role = 'viewer' | 'operator' | 'admin';

/** GET /api/whoami. */
export interface WhoAmIResponse {
  name: string | null;
  role: Role;
  keys_configured: boolean;
}

/** One row of the audit trail (GET /api/audit). */
export interface AuditEntryResponse {
  id: number;
  at: string;
  key_name: string | null;
  role: Role | null;
  source: string;
  client: string | null;
  method: string;
  path: string;
  action: string;
  target_id: string | null;
  job_id: string | null;
  status: number;
}

export interface AuditListResponse {
  entries: AuditEntryResponse[];
  next_before: number | null;
}
