import { useState } from 'react';

import { useCreateBackup } from '../hooks/useBackup';
import { isBusy, useJob } from '../hooks/useJob';
import { useCan } from '../hooks/useWhoAmI';
import type { BackupJob } from '../types/backup';
import { formatBytes, formatDateTime } from '../utils/format';
import { DEFAULT_TABLES_IN_WORDS } from '../utils/tables';
import { DownloadLink } from './DownloadLink';
import { JobProgress } from './JobProgress';

export interface CreateBackupPanelProps {
  /** The id of a backup that was just deleted from the list (its result is hidden then). */
  deletedIds: ReadonlySet<string>;
}

export function CreateBackupPanel({ deletedIds }: CreateBackupPanelProps) {
  const create = useCreateBackup();
  const [jobId, setJobId] = useState<string | null>(null);
  const job = useJob('backup', jobId, { starting: create.isPending });
  const busy = isBusy(job.phase);
  const canBackUp = useCan('backup');
  const showJob = !!jobId && !deletedIds.has(jobId);

  return (
    <section className="card" aria-labelledby="create-heading">
      <h2 id="create-heading">Create a backup</h2>
      <p className="lead">
        Saves the {DEFAULT_TABLES_IN_WORDS} into one .zip file on the server. You can download it afterwards.
      </p>
      <button
        type="button"
        className="button button-primary"
        hidden={!canBackUp}
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
          <JobProgress kind="backup" job={job} subject="backup" progressLabel="Backup progress">
            {job.data ? <BackupOutcome data={job.data} /> : null}
          </JobProgress>
        </div>
      ) : null}
    </section>
  );
}

/** A completed backup: when and how large, what it warned about, and its download. */
function BackupOutcome({ data }: { data: BackupJob }) {
  const canDownload = useCan('download');
  return (
    <>
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
      {canDownload ? (
        <DownloadLink jobId={data.id} className="button">
          Download backup
        </DownloadLink>
      ) : null}
    </>
  );
}
