import { useRef } from 'react';

import type { RestoreJob } from '../types/backup';

export type RestoreStage = 'upload' | 'validating' | 'restoring' | 'completed';

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

/**
 * The stage a restore job is in. A failed job stays on the last stage it was seen in (the
 * stepper marks it failed); before the first status it is `validating` once there is a job id.
 */
export function useRestoreStage(data: RestoreJob | undefined, hasJob: boolean): {
  stage: RestoreStage;
  resetStage: () => void;
} {
  const lastActive = useRef<RestoreStage>('validating');
  let stage: RestoreStage = hasJob ? 'validating' : 'upload';
  if (data) {
    if (data.status === 'restoring') stage = 'restoring';
    else if (data.status === 'completed') stage = 'completed';
    else if (data.status === 'failed') stage = lastActive.current;
    else stage = 'validating';
    if (data.status === 'validating' || data.status === 'restoring') lastActive.current = stage;
  }
  return { stage, resetStage: () => (lastActive.current = 'validating') };
}

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
