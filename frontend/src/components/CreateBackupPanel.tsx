import { useState } from 'react';

import { isBackupActive, useBackupJob, useCreateBackup } from '../hooks/useBackup';
import { formatBytes, formatDateTime } from '../utils/format';
import { DownloadLink } from './DownloadLink';
import { ProgressBar } from './ProgressBar';

const STATUS_TEXT = {
  pending: 'Waiting to start…',
  running: 'Backing up…',
  completed: 'Backup completed',
  failed: 'Backup failed',
} as const;

export interface CreateBackupPanelProps {
  /** The id of a backup that was just deleted from the list (its result is hidden then). */
  deletedIds: ReadonlySet<string>;
}

export function CreateBackupPanel({ deletedIds }: CreateBackupPanelProps) {
  const create = useCreateBackup();
  const [jobId, setJobId] = useState<string | null>(null);
  const job = useBackupJob(jobId);
  const data = job.data;

  const waitingForFirstStatus = !!jobId && !data && !job.error;
  const busy = create.isPending || waitingForFirstStatus || isBackupActive(data?.status);
  const showJob = !!jobId && !deletedIds.has(jobId);

  return (
    <section className="card" aria-labelledby="create-heading">
      <h2 id="create-heading">Create a backup</h2>
      <p className="lead">
        Saves the events, alerts, cameras, zones, prompts, baselines, household members and settings into one
        .zip file on the server. You can download it afterwards.
      </p>
      <button
        type="button"
        className="button button-primary"
        disabled={busy}
        onClick={() => {
          create.reset();
          create.mutate(undefined, { onSuccess: (res) => setJobId(res.job_id) });
        }}
      >
        {busy ? 'Backing up…' : 'Create backup'}
      </button>

      {create.error ? (
        <p className="message message-error" role="alert">
          Could not start the backup: {create.error.message}
        </p>
      ) : null}

      {showJob ? (
        <div className="job" aria-live="polite" aria-busy={busy || undefined} data-testid="backup-job">
          {job.error ? (
            <p className="message message-error" role="alert">
              Could not read the backup's progress: {job.error.message}
            </p>
          ) : null}
          {waitingForFirstStatus ? <p className="status-line">Starting the backup…</p> : null}
          {data ? (
            <>
              <p className="status-line">
                <span className={`badge badge-${data.status}`}>{STATUS_TEXT[data.status] ?? data.status}</span>
                {isBackupActive(data.status) && data.progress.current_step ? (
                  <span className="current-step" data-testid="backup-step">
                    {data.progress.current_step}
                  </span>
                ) : null}
              </p>
              <ProgressBar
                label="Backup progress"
                value={data.status === 'completed' ? 100 : data.progress.progress_percent}
                valueText={data.progress.current_step ?? STATUS_TEXT[data.status]}
                tone={data.status === 'failed' ? 'failed' : data.status === 'completed' ? 'done' : 'active'}
              />
              <p className="hint">
                {data.progress.completed_tables} of {data.progress.total_tables} tables
              </p>
              {data.status === 'completed' ? (
                <div className="result">
                  <p className="message message-success">
                    Backup completed {formatDateTime(data.completed_at)} — {formatBytes(data.file_size_bytes)}.
                  </p>
                  {data.warnings && data.warnings.length > 0 ? (
                    <ul className="message message-warning" aria-label="Backup warnings">
                      {data.warnings.map((warning) => (
                        <li key={warning}>{warning}</li>
                      ))}
                    </ul>
                  ) : null}
                  <DownloadLink jobId={data.id} className="button">
                    Download backup
                  </DownloadLink>
                </div>
              ) : null}
              {data.status === 'failed' ? (
                <p className="message message-error" role="alert">
                  Backup failed: {data.error_message || 'the server gave no reason.'}
                </p>
              ) : null}
            </>
          ) : null}
        </div>
      ) : null}
    </section>
  );
}
