import type { RestoreStage } from '../hooks/useRestoreStage';

export interface StepperStage {
  id: RestoreStage;
  label: string;
}

export const UPLOAD_STAGES: readonly StepperStage[] = [
  { id: 'upload', label: 'Upload' },
  { id: 'validating', label: 'Validate' },
  { id: 'restoring', label: 'Restore' },
  { id: 'completed', label: 'Done' },
];

/** A saved backup is read from the store: no upload step. */
export const SAVED_STAGES: readonly StepperStage[] = UPLOAD_STAGES.slice(1);

export interface StepperProps {
  stages: readonly StepperStage[];
  current: RestoreStage;
  failed: boolean;
  label?: string;
}

export function Stepper({ stages, current, failed, label = 'Restore steps' }: StepperProps) {
  const index = stages.findIndex((s) => s.id === current);
  return (
    <ol className="stepper" aria-label={label}>
      {stages.map((stage, i) => {
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
