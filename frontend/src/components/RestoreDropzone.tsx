import type { RefObject } from 'react';
import { useState } from 'react';

export interface RestoreDropzoneProps {
  /** While a restore runs: nothing can be dropped or chosen. */
  disabled: boolean;
  /** The hidden file input (the panel clears it on reset). */
  inputRef: RefObject<HTMLInputElement | null>;
  /** "Choose a backup file…" (the panel focuses it on reset). */
  chooseRef: RefObject<HTMLButtonElement | null>;
  /** The files dropped or chosen (at least one). */
  onFiles: (files: readonly File[]) => void;
}

/** "Drop a backup file here, or [Choose a backup file…]". */
export function RestoreDropzone({ disabled, inputRef, chooseRef, onFiles }: RestoreDropzoneProps) {
  const [dragging, setDragging] = useState(false);
  const pick = (files: FileList | null | undefined) => {
    if (files && files.length > 0) onFiles(Array.from(files));
  };
  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: a drop target for the mouse; the button inside is the control
    <div
      className={['dropzone', dragging ? 'dropzone-active' : '', disabled ? 'dropzone-disabled' : '']
        .filter(Boolean)
        .join(' ')}
      data-testid="dropzone"
      onDragEnter={(event) => {
        event.preventDefault();
        if (!disabled) setDragging(true);
      }}
      onDragOver={(event) => {
        event.preventDefault();
        if (event.dataTransfer) event.dataTransfer.dropEffect = disabled ? 'none' : 'copy';
      }}
      onDragLeave={(event) => {
        if (event.currentTarget.contains(event.relatedTarget as Node | null)) return;
        setDragging(false);
      }}
      onDrop={(event) => {
        event.preventDefault();
        setDragging(false);
        if (!disabled) pick(event.dataTransfer?.files);
      }}
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
        disabled={disabled}
        onChange={(event) => pick(event.target.files)}
      />
      <button
        type="button"
        ref={chooseRef}
        className="button"
        disabled={disabled}
        onClick={() => inputRef.current?.click()}
      >
        Choose a backup file…
      </button>
    </div>
  );
}
