import { useRef, useState } from 'react';

import { useRestoreRun, useStartRestore } from '../hooks/useRestore';
import { useRestoreStage } from '../hooks/useRestoreStage';
import { formatBytes } from '../utils/format';
import { DEFAULT_TABLES_IN_WORDS } from '../utils/tables';
import { ConfirmDialog } from './ConfirmDialog';
import { RestoreDropzone } from './RestoreDropzone';
import { RestoreJobView } from './RestoreJobView';
import { SafetyBackupOption } from './SafetyBackupOption';
import { Stepper, UPLOAD_STAGES } from './Stepper';
import { UndoRestore } from './UndoRestore';

/** A backup archive: .zip, or .zip.age (age-encrypted; the server needs its identity to read it). */
function isArchiveName(name: string): boolean {
  return /\.zip(\.age)?$/i.test(name);
}

export function RestorePanel() {
  const [file, setFile] = useState<File | null>(null);
  const [fileError, setFileError] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [jobId, setJobId] = useState<string | null>(null);
  // True from the moment the user confirms until "Restore another file".
  const [submitted, setSubmitted] = useState(false);
  const [safety, setSafety] = useState(true);
  const inputRef = useRef<HTMLInputElement>(null);
  const statusRef = useRef<HTMLDivElement>(null);
  const chooseRef = useRef<HTMLButtonElement>(null);

  const start = useStartRestore();
  const run = useRestoreRun(jobId, { starting: start.isPending });
  const data = run.job.data;
  const { stage, resetStage } = useRestoreStage(data, !!jobId);
  const startFailed = !!start.error && !jobId;

  function choose(files: readonly File[]) {
    if (files.length > 1) {
      setFile(null);
      setFileError('Drop one backup file at a time.');
      return;
    }
    const selected = files[0];
    start.reset();
    setJobId(null);
    setSubmitted(false);
    setSafety(true); // every new file starts with the safety backup on
    if (!isArchiveName(selected.name)) {
      setFile(null);
      setFileError(
        `“${selected.name}” is not a backup archive. Choose a .zip (or encrypted .zip.age) file made by backupd.`,
      );
      return;
    }
    setFileError(null);
    setFile(selected);
  }

  function reset() {
    start.reset();
    setJobId(null);
    setSubmitted(false);
    resetStage();
    setSafety(true);
    setFile(null);
    setFileError(null);
    if (inputRef.current) inputRef.current.value = '';
    setTimeout(() => chooseRef.current?.focus(), 0);
  }

  return (
    <section className="card" aria-labelledby="restore-heading">
      <h2 id="restore-heading">Restore from a backup</h2>
      <p className="lead">
        Upload a backup (.zip, or an encrypted .zip.age) to put the database back the way it was when the backup
        was made.
      </p>

      <RestoreDropzone disabled={run.busy} inputRef={inputRef} chooseRef={chooseRef} onFiles={choose} />

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

      {submitted ? (
        <div
          className="job"
          ref={statusRef}
          tabIndex={-1}
          aria-live="polite"
          data-testid="restore-job"
          data-job-id={jobId ?? undefined}
        >
          <Stepper stages={UPLOAD_STAGES} current={stage} failed={data?.status === 'failed' || startFailed} />

          {!jobId && !start.error ? (
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

          <RestoreJobView
            job={run.job}
            announceStart={false}
            completedActions={data ? <UndoRestore job={data} undo={run.undo} /> : null}
          />

          {run.ended || startFailed ? (
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
            resetStage();
            start.mutate({ file, options: { safety_backup: safety } }, { onSuccess: (res) => setJobId(res.job_id) });
          }}
        >
          <p>
            Restoring <strong>{file.name}</strong> replaces the {DEFAULT_TABLES_IN_WORDS} in the database with the
            contents of this backup.
          </p>
          <p>Rows added since the backup was made are removed, and rows changed since are set back.</p>
          <SafetyBackupOption checked={safety} onChange={setSafety} />
        </ConfirmDialog>
      ) : null}
    </section>
  );
}
