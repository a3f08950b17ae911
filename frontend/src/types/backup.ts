// Backup job status
export type BackupJobStatus = 'pending' | 'running' | 'completed' | 'failed';
export type RestoreJobStatus = 'pending' | 'validating' | 'restoring' | 'completed' | 'failed';

// Backup manifest (from backend)
export interface BackupContentInfo {
  count: number;
  checksum: string;
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
}

export interface BackupListItem {
  id: string;
  created_at: string;
  file_size_bytes: number;
  status: BackupJobStatus;
  download_url: string | null;
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
