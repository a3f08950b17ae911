import type { ReactNode } from 'react';

import type { JobQuery } from '../hooks/useJob';
import type { JobOf, ProgressKind } from '../utils/jobStatus';
import { FAILURE_TEXT, isActive, statusLabel } from '../utils/jobStatus';
import { ProgressBar } from './ProgressBar';

export interface JobProgressProps<K extends ProgressKind> {
  kind: K;
  /** The job, as useJob follows it. */
  job: JobQuery<K>;
  /** What the sentences call the job: "backup", "restore", "undo". */
  subject: string;
  /** Accessible name of the progress bar, e.g. "Backup progress". */
  progressLabel: string;
  /** Says "Starting the {subject}…" until the first status is in (default true). */
  announceStart?: boolean;
  /** The outcome, shown under the progress once the job has completed. */
  children?: ReactNode;
}

/**
 * A followed job: why its status cannot be read, "Starting the …" until its first status, then
 * the status badge, the current step, the progress bar, "N of M tables", and the failure line or
 * (once completed) the outcome given as children.
 */
export function JobProgress<K extends ProgressKind>({
  kind,
  job,
  subject,
  progressLabel,
  announceStart = true,
  children,
}: JobProgressProps<K>) {
  return (
    <>
      {job.error ? (
        <p className="message message-error" role="alert">
          Could not read the {subject}'s progress: {job.error.message}
        </p>
      ) : null}
      {announceStart && job.phase === 'waiting' ? <p className="status-line">Starting the {subject}…</p> : null}
      {job.data ? (
        <JobStatus kind={kind} data={job.data} progressLabel={progressLabel}>
          {children}
        </JobStatus>
      ) : null}
    </>
  );
}

interface JobStatusProps<K extends ProgressKind> {
  kind: K;
  data: JobOf<K>;
  progressLabel: string;
  children?: ReactNode;
}

function JobStatus<K extends ProgressKind>({ kind, data, progressLabel, children }: JobStatusProps<K>) {
  const { status, progress } = data;
  const label = statusLabel(kind, status);
  const completed = status === 'completed';
  const failed = status === 'failed';
  const failure = FAILURE_TEXT[kind];
  return (
    <>
      <p className="status-line">
        <span className={`badge badge-${status}`} data-testid={`${kind}-status`}>
          {label}
        </span>
        {isActive(kind, status) && progress.current_step ? (
          <span className="current-step" data-testid={`${kind}-step`}>
            {progress.current_step}
          </span>
        ) : null}
      </p>
      <ProgressBar
        label={progressLabel}
        value={completed ? 100 : progress.progress_percent}
        valueText={progress.current_step ?? label}
        tone={failed ? 'failed' : completed ? 'done' : 'active'}
      />
      <p className="hint">
        {progress.completed_tables} of {progress.total_tables} tables
      </p>
      {failed ? (
        <p className="message message-error" role="alert">
          {failure.lead}: {data.error_message || 'the server gave no reason.'}
          {failure.after}
        </p>
      ) : null}
      {completed ? <div className="result">{children}</div> : null}
    </>
  );
}
