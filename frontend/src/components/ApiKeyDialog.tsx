import { useId, useRef, useState } from 'react';

import type { ApiKeyPromptReason } from '../api';
import { Dialog } from './Dialog';

export interface ApiKeyDialogProps {
  reason: ApiKeyPromptReason;
  onSubmit: (key: string) => void;
  onCancel: () => void;
}

/** Asks for the server's API key (BACKUPD_API_KEY); the page keeps it for this browser tab. */
export function ApiKeyDialog({ reason, onSubmit, onCancel }: ApiKeyDialogProps) {
  const [key, setKey] = useState('');
  const [empty, setEmpty] = useState(false);
  const inputRef = useRef<HTMLInputElement>(null);
  const inputId = useId();
  const hintId = useId();

  return (
    <Dialog title="API key required" onClose={onCancel} initialFocusRef={inputRef} className="dialog-narrow">
      <form
        onSubmit={(event) => {
          event.preventDefault();
          const value = key.trim();
          if (!value) {
            setEmpty(true);
            inputRef.current?.focus();
            return;
          }
          onSubmit(value);
        }}
      >
        {reason === 'rejected' ? (
          <p className="message message-error" role="alert">
            That API key was not accepted. Check it and try again.
          </p>
        ) : (
          <p>This backupd server asks for an API key before it shows or changes backups.</p>
        )}
        <div className="field">
          <label htmlFor={inputId}>API key</label>
          <input
            id={inputId}
            ref={inputRef}
            type="password"
            name="api-key"
            autoComplete="off"
            spellCheck={false}
            value={key}
            aria-describedby={hintId}
            aria-invalid={empty || undefined}
            onChange={(event) => {
              setKey(event.target.value);
              setEmpty(false);
            }}
          />
          <p id={hintId} className="hint">
            {empty ? 'Enter the key first.' : 'The value of BACKUPD_API_KEY. It is kept only until this tab is closed.'}
          </p>
        </div>
        <div className="dialog-actions">
          <button type="button" className="button" onClick={onCancel}>
            Cancel
          </button>
          <button type="submit" className="button button-primary">
            Continue
          </button>
        </div>
      </form>
    </Dialog>
  );
}
