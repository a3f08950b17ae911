import { useRef, useState } from 'react';
import type { DragEvent } from 'react';

import { isRestoreActive, useRestoreJob, useStartRestore } from '../hooks/useBackup';
import type { RestoreJob } from '../types/backup';
import { formatBytes, formatDateTime, joinWithAnd, orderedCounts, RESTORED_TABLES, tableLabel } from '../utils/format';
import { ConfirmDialog } from './ConfirmDialog';
import { ProgressBar } from './ProgressBar';

type Stage = 'upload' | 'validating' | 'restoring' | 'completed';

const STAGES: { id: Stage; label: string }[] = [
  { id: 'upload', label: 'Upload' },
  { id: 'validating', label: 'Validate' },
  { id: 'restoring', label: 'Restore' },
  { id: 'completed', label: 'Done' },
];

const STATUS_TEXT: Record<RestoreJob['status'], string> = {
  pending: 'Waiting to start…',
  validating: 'Validating the backup…',
  restoring: 'Restoring the data…',
  completed: 'Restore completed',
  failed: 'Restore failed',
};

function isZipName(name: string): boolean {
  return /\.zip$/i.test(name);
}

function Stepper({ current, failed }: { current: Stage; failed: boolean }) {
  const index = STAGES.findIndex((s) => s.id === current);
  return (
    <ol className="stepper" aria-label="Restore steps">
      {STAGES.map((stage, i) => {
        const state =
          i < index || (current === 'completed' && i === index)
            ? 'done'
            : i === index
              ? failed
                ? 'failed'
                : 'current'
              : 'todo';
        return (
          <li key={stage.id} className={`step step-${state}`} aria-current={state === 'current' ? 'step' : undefined}>
            <span className="step-dot" aria-hidden="true">
              {state === 'done' ? '✓' : state === 'failed' ? '!' : i + 1}
            </span>
            <span className="step-label">
              {stage.label}
              <span className="visually-hidden">
                {state === 'done' ? ' (done)' : state === 'current' ? ' (in progress)' : state === 'failed' ? ' (failed)' : ''}
              </span>
            </span>
          </li>
        );
      })}
    </ol>
  );
}

export function RestorePanel() {
  const [file, setFile] = useState<File | null>(null);
  const [fileError, setFileError] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [dragging, setDragging] = useState(false);
  const [jobId, setJobId] = useState<string | null>(null);
  // True from the moment the user confirms until "Restore another file".
  const [submitted, setSubmitted] = useState(false);
  const lastActiveStage = useRef<Stage>('validating');
  const inputRef = useRef<HTMLInputElement>(null);
  const statusRef = useRef<HTMLDivElement>(null);
  const chooseRef = useRef<HTMLButtonElement>(null);

  const start = useStartRestore();
  const job = useRestoreJob(jobId);
  const data = job.data;

  const waitingForFirstStatus = !!jobId && !data && !job.error;
  const running = start.isPending || waitingForFirstStatus || isRestoreActive(data?.status);
  const finished = !!data && !isRestoreActive(data.status);
  const showProgress = submitted;

  let stage: Stage = 'upload';
  if (data) {
    if (data.status === 'restoring') stage = 'restoring';
    else if (data.status === 'completed') stage = 'completed';
    else if (data.status === 'failed') stage = lastActiveStage.current;
    else stage = 'validating';
    if (data.status === 'validating' || data.status === 'restoring') lastActiveStage.current = stage;
  } else if (jobId) {
    stage = 'validating';
  }

  function choose(selected: File | null | undefined) {
    if (!selected) return;
    start.reset();
    setJobId(null);
    setSubmitted(false);
    if (!isZipName(selected.name)) {
      setFile(null);
      setFileError(`“${selected.name}” is not a .zip file. Choose a backup archive (.zip) made by backupd.`);
      return;
    }
    setFileError(null);
    setFile(selected);
  }

  function onDrop(event: DragEvent<HTMLDivElement>) {
    event.preventDefault();
    setDragging(false);
    if (running) return;
    const files = event.dataTransfer?.files;
    if (!files || files.length === 0) return;
    if (files.length > 1) {
      setFile(null);
      setFileError('Drop one backup file at a time.');
      return;
    }
    choose(files[0]);
  }

  function reset() {
    start.reset();
    setJobId(null);
    setSubmitted(false);
    lastActiveStage.current = 'validating';
    setFile(null);
    setFileError(null);
    if (inputRef.current) inputRef.current.value = '';
    setTimeout(() => chooseRef.current?.focus(), 0);
  }

  const tablesSentence = joinWithAnd(RESTORED_TABLES);

  return (
    <section className="card" aria-labelledby="restore-heading">
      <h2 id="restore-heading">Restore from a backup</h2>
      <p className="lead">
        Upload a backup .zip to put the database back the way it was when the backup was made.
      </p>

      <div
        className={['dropzone', dragging ? 'dropzone-active' : '', running ? 'dropzone-disabled' : '']
          .filter(Boolean)
          .join(' ')}
        data-testid="dropzone"
        onDragEnter={(event) => {
          event.preventDefault();
          if (!running) setDragging(true);
        }}
        onDragOver={(event) => {
          event.preventDefault();
          if (event.dataTransfer) event.dataTransfer.dropEffect = running ? 'none' : 'copy';
        }}
        onDragLeave={(event) => {
          if (event.currentTarget.contains(event.relatedTarget as Node | null)) return;
          setDragging(false);
        }}
        onDrop={onDrop}
      >
        <p className="dropzone-text">Drop a backup .zip here, or</p>
        <input
          ref={inputRef}
          id="restore-file"
          type="file"
          accept=".zip,application/zip,application/x-zip-compressed"
          className="visually-hidden"
          tabIndex={-1}
          aria-label="Backup file"
          disabled={running}
          onChange={(event) => choose(event.target.files?.[0])}
        />
        <button
          type="button"
          ref={chooseRef}
          className="button"
          disabled={running}
          onClick={() => inputRef.current?.click()}
        >
          Choose a .zip file…
        </button>
      </div>

      {fileError ? (
        <p className="message message-error" role="alert">
          {fileError}
        </p>
      ) : null}

      {file && !submitted ? (
        <div className="selected-file">
          <p>
            Selected: <strong className="file-name">{file.name}</strong> ({formatBytes(file.size)})
          </p>
          <div className="actions">
            <button type="button" className="button button-danger" onClick={() => setConfirming(true)}>
              Restore from this file…
            </button>
            <button type="button" className="button" onClick={reset}>
              Clear
            </button>
          </div>
        </div>
      ) : null}

      {showProgress ? (
        <div className="job" ref={statusRef} tabIndex={-1} aria-live="polite" data-testid="restore-job">
          <Stepper current={stage} failed={data?.status === 'failed' || (!!start.error && !jobId)} />

          {submitted && !jobId && !start.error ? (
            <p className="status-line">
              <span>
                Uploading <strong className="file-name">{file?.name}</strong>…
              </span>
            </p>
          ) : null}

          {start.error ? (
            <p className="message message-error" role="alert">
              Could not start the restore: {start.error.message}
            </p>
          ) : null}

          {job.error ? (
            <p className="message message-error" role="alert">
              Could not read the restore's progress: {job.error.message}
            </p>
          ) : null}

          {data ? (
            <>
              <p className="status-line">
                <span className={`badge badge-${data.status}`} data-testid="restore-status">
                  {STATUS_TEXT[data.status] ?? data.status}
                </span>
                {isRestoreActive(data.status) && data.progress.current_step ? (
                  <span className="current-step">{data.progress.current_step}</span>
                ) : null}
              </p>
              <ProgressBar
                label="Restore progress"
                value={data.status === 'completed' ? 100 : data.progress.progress_percent}
                valueText={data.progress.current_step ?? STATUS_TEXT[data.status]}
                tone={data.status === 'failed' ? 'failed' : data.status === 'completed' ? 'done' : 'active'}
              />
              <p className="hint">
                {data.progress.completed_tables} of {data.progress.total_tables} tables
              </p>
            </>
          ) : null}

          {data?.status === 'failed' ? (
            <p className="message message-error" role="alert">
              Restore failed: {data.error_message || 'the server gave no reason.'} Nothing was changed.
            </p>
          ) : null}

          {data?.status === 'completed' ? (
            <div className="result">
              <p className="message message-success">
                Restore completed {formatDateTime(data.completed_at)}.
                {data.backup_created_at ? ` The data is now as it was on ${formatDateTime(data.backup_created_at)}.` : ''}
              </p>
              {data.items_restored ? (
                <table className="counts" data-testid="items-restored">
                  <caption>Rows restored per table</caption>
                  <thead>
                    <tr>
                      <th scope="col">Table</th>
                      <th scope="col" className="num">
                        Rows
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {orderedCounts(data.items_restored).map(([table, count]) => (
                      <tr key={table} data-table={table}>
                        <th scope="row">{tableLabel(table)}</th>
                        <td className="num">{count.toLocaleString()}</td>
                      </tr>
                    ))}
                  </tbody>
                  <tfoot>
                    <tr>
                      <th scope="row">Total</th>
                      <td className="num">
                        {Object.values(data.items_restored)
                          .reduce((a, b) => a + b, 0)
                          .toLocaleString()}
                      </td>
                    </tr>
                  </tfoot>
                </table>
              ) : null}
            </div>
          ) : null}

          {finished || (start.error && !jobId) || job.error ? (
            <button type="button" className="button" onClick={reset}>
              Restore another file
            </button>
          ) : null}
        </div>
      ) : null}

      {confirming && file ? (
        <ConfirmDialog
          title="Replace the current data?"
          confirmLabel="Replace data and restore"
          fallbackFocusRef={statusRef}
          onCancel={() => setConfirming(false)}
          onConfirm={() => {
            // The dialog closes, the file's buttons give way to the progress view, and focus moves
            // there (the dialog's fallback, as the button that opened it is gone).
            setConfirming(false);
            setSubmitted(true);
            lastActiveStage.current = 'validating';
            start.mutate(file, { onSuccess: (res) => setJobId(res.job_id) });
          }}
        >
          <p>
            Restoring <strong>{file.name}</strong> replaces the {tablesSentence} in the database with the contents
            of this backup.
          </p>
          <p>
            Anything added or changed since the backup was made will be lost. This cannot be undone; if you may need
            the current data, create a backup of it first.
          </p>
        </ConfirmDialog>
      ) : null}
    </section>
  );
}
