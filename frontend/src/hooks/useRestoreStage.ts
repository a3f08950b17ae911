import { useRef } from 'react';

import type { RestoreJob } from '../types/backup';

export type RestoreStage = 'upload' | 'validating' | 'restoring' | 'completed';

/**
 * The stage a restore job is in, for the Stepper. A failed job stays on the last stage it was
 * seen in (the stepper marks it failed); before the first status it is `validating` once there
 * is a job id.
 */
export function useRestoreStage(
  data: RestoreJob | undefined,
  hasJob: boolean,
): {
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
  return {
    stage,
    resetStage: () => {
      lastActive.current = 'validating';
    },
  };
}
