/**
 * TanStack Query hooks for automatic backups, pinning and restore drills (CONTRACT §9).
 *
 * Query Keys:
 *   ['schedule']             - GET /api/schedule (refreshed every 30 s: next run, last result)
 *   ['drills', 'list']       - GET /api/drills (every 2 s while a drill is pending or running)
 */

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';

import { getSchedule, listDrills, setBackupPinned, startDrill, updateSchedule } from '../services/backupApi';
import type {
  BackupJob,
  DrillListResponse,
  DrillStartResponse,
  ScheduleResponse,
  ScheduleUpdate,
} from '../types/backup';
import { BACKUP_QUERY_KEYS } from './useBackup';

export const AUTOMATION_QUERY_KEYS = {
  schedule: ['schedule'] as const,
  drills: ['drills', 'list'] as const,
};

export const SCHEDULE_REFRESH_MS = 30_000;
export const ACTIVE_DRILL_POLL_MS = 2_000;

export function useSchedule() {
  return useQuery<ScheduleResponse, Error>({
    queryKey: AUTOMATION_QUERY_KEYS.schedule,
    queryFn: getSchedule,
    refetchInterval: SCHEDULE_REFRESH_MS,
  });
}

export function useUpdateSchedule() {
  const queryClient = useQueryClient();
  return useMutation<ScheduleResponse, Error, ScheduleUpdate>({
    mutationFn: (update) => updateSchedule(update),
    onSuccess: (saved) => queryClient.setQueryData(AUTOMATION_QUERY_KEYS.schedule, saved),
  });
}

export function usePinBackup() {
  const queryClient = useQueryClient();
  return useMutation<BackupJob, Error, { id: string; pinned: boolean }>({
    mutationFn: ({ id, pinned }) => setBackupPinned(id, pinned),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: BACKUP_QUERY_KEYS.list }),
  });
}

export function isDrillActive(status: string | undefined): boolean {
  return status === 'pending' || status === 'running';
}

export function useDrills(pollInterval = ACTIVE_DRILL_POLL_MS) {
  return useQuery<DrillListResponse, Error>({
    queryKey: AUTOMATION_QUERY_KEYS.drills,
    queryFn: listDrills,
    refetchInterval: (query) =>
      query.state.data?.drills.some((d) => isDrillActive(d.status)) ? pollInterval : SCHEDULE_REFRESH_MS,
  });
}

export function useStartDrill() {
  const queryClient = useQueryClient();
  return useMutation<DrillStartResponse, Error, string>({
    mutationFn: (backupId) => startDrill(backupId),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: AUTOMATION_QUERY_KEYS.drills }),
  });
}
