import { useId } from 'react';

export interface SafetyBackupOptionProps {
  checked: boolean;
  onChange: (checked: boolean) => void;
}

/** The "take a safety backup first" checkbox of the restore dialogs (on by default, docs/restore-guarantees.md). */
export function SafetyBackupOption({ checked, onChange }: SafetyBackupOptionProps) {
  const hintId = useId();
  return (
    <div className="safety-option">
      <label className="check">
        <input
          type="checkbox"
          checked={checked}
          aria-describedby={hintId}
          onChange={(event) => onChange(event.target.checked)}
        />
        <span>Back up the current data first (safety backup)</span>
      </label>
      <p id={hintId} className={checked ? 'hint' : 'hint hint-warning'} data-testid="safety-hint">
        {checked
          ? 'The rows this restore replaces are saved first, so you can undo it afterwards.'
          : 'Without a safety backup this restore cannot be undone.'}
      </p>
    </div>
  );
}
