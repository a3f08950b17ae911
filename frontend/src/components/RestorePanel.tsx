import { useRef, useState } from 'react';
import type { DragEvent } from 'react';

import { isRestoreActive, useRestoreJob, useStartRestore } from '../hooks/useBackup';
import { formatBytes, joinWithAnd, RESTORED_TABLES } from '../utils/format';
import { ConfirmDialog } from './ConfirmDialog';
import { RestoreJobView } from './RestoreJobView';
import { SafetyBackupOption } from './SafetyBackupOption';
import { Stepper, UPLOAD_STAGES, useRestoreStage } from './Stepper';
import { UndoRestore } from './UndoRestore';

/** A backup archive: .zip, or .zip.age (age-encrypted; the server needs its identity to read it). */
function isArchiveName(name: string): boolean {
  return /\.zip(\.age)?$/i.test(name);
}

export function RestorePanel() {
  const [file, setFile] = useState<File | null>(null);
  const [fileError, setFileError] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [dragging, setDragging] = useState(false);
  const [jobId, setJobId] = useState<string | null>(null);
  // True from the moment the user confirms until "Restore another file".
  const [submitted, setSubmitted] = useState(false);
  const [safety, setSafety] = useState(true);
  const [undoActive, setUndoActive] = useState(false);
  const inputRef = useRef<HTMLInputElement>(null);
  const statusRef = useRef<HTMLDivElement>(null);
  const chooseRef = useRef<HTMLButtonElement>(null);

  const start = useStartRestore();
  const job = useRestoreJob(jobId);
  const data = job.data;

  const waitingForFirstStatus = !!jobId && !data && !job.error;
  const running = start.isPending || waitingForFirstStatus || isRestoreActive(data?.status) || undoActive;
  const finished = !!data && !isRestoreActive(data.status) && !undoActive;
  const showProgress = submitted;
  const { stage, resetStage } = useRestoreStage(data, !!jobId);

  function choose(selected: File | null | undefined) {
    if (!selected) return;
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
    resetStage();
    setSafety(true);
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
        Upload a backup (.zip, or an encrypted .zip.age) to put the database back the way it was when the backup
        was made.
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
        <p className="dropzone-text">Drop a backup file here, or</p>
        <input
          ref={inputRef}
          id="restore-file"
          type="file"
          accept=".zip,.zip.age,.age,application/zip,application/x-zip-compressed"
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
          Choose a backup file…
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
        <div
          className="job"
          ref={statusRef}
          tabIndex={-1}
          aria-live="polite"
          data-testid="restore-job"
          data-job-id={jobId ?? undefined}
        >
          <Stepper stages={UPLOAD_STAGES} current={stage} failed={data?.status === 'failed' || (!!start.error && !jobId)} />

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
            <RestoreJobView data={data} completedActions={<UndoRestore job={data} onActiveChange={setUndoActive} />} />
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
            resetStage();
            start.mutate({ file, options: { safety_backup: safety } }, { onSuccess: (res) => setJobId(res.job_id) });
          }}
        >
          <p>
            Restoring <strong>{file.name}</strong> replaces the {tablesSentence} in the database with the contents
            of this backup.
          </p>
          <p>Rows added since the backup was made are removed, and rows changed since are set back.</p>
          <SafetyBackupOption checked={safety} onChange={setSafety} />
        </ConfirmDialog>
      ) : null}
    </section>
  );
}
