import type { ReactNode, RefObject } from 'react';
import { useRef } from 'react';

import { Dialog } from './Dialog';

export interface ConfirmDialogProps {
  title: string;
  children: ReactNode;
  confirmLabel: string;
  cancelLabel?: string;
  onConfirm: () => void;
  onCancel: () => void;
  /** Shows the action as running and disables both buttons. */
  busy?: boolean;
  busyLabel?: string;
  /** An error to show inside the dialog (e.g. the API refused the action). */
  error?: string | null;
  fallbackFocusRef?: RefObject<HTMLElement | null>;
  /** Keeps the confirm button disabled (e.g. until the user has chosen something). */
  confirmDisabled?: boolean;
  className?: string;
}

/** A destructive-action confirmation: Cancel has the focus first, Escape cancels. */
export function ConfirmDialog({
  title,
  children,
  confirmLabel,
  cancelLabel = 'Cancel',
  onConfirm,
  onCancel,
  busy = false,
  busyLabel,
  error,
  fallbackFocusRef,
  confirmDisabled = false,
  className,
}: ConfirmDialogProps) {
  const cancelRef = useRef<HTMLButtonElement>(null);
  return (
    <Dialog
      title={title}
      role="alertdialog"
      onClose={() => {
        if (!busy) onCancel();
      }}
      initialFocusRef={cancelRef}
      fallbackFocusRef={fallbackFocusRef}
      className={className}
    >
      <div className="dialog-content">{children}</div>
      {error ? (
        <p className="message message-error" role="alert">
          {error}
        </p>
      ) : null}
      <div className="dialog-actions">
        <button type="button" ref={cancelRef} className="button" onClick={onCancel} disabled={busy}>
          {cancelLabel}
        </button>
        <button type="button" className="button button-danger" onClick={onConfirm} disabled={busy || confirmDisabled}>
          {busy ? (busyLabel ?? confirmLabel) : confirmLabel}
        </button>
      </div>
    </Dialog>
  );
}
