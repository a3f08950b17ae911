/**
 * Automatic backups and restore drills (docs/operations.md): the schedule (refreshed every 30 s: next
 * run, last result) and the drill history (every 2 s while a drill is pending or running).
 */

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';

import { getSchedule, listDrills, startDrill, updateSchedule } from '../api';
import type { DrillListResponse, DrillStartResponse, ScheduleResponse, ScheduleUpdate } from '../types/backup';
import { isActive } from '../utils/jobStatus';
import { AUTOMATION_QUERY_KEYS } from './queryKeys';

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

export function useDrills(pollInterval = ACTIVE_DRILL_POLL_MS) {
  return useQuery<DrillListResponse, Error>({
    queryKey: AUTOMATION_QUERY_KEYS.drills,
    queryFn: listDrills,
    refetchInterval: (query) =>
      query.state.data?.drills.some((d) => isActive('drill', d.status)) ? pollInterval : SCHEDULE_REFRESH_MS,
  });
}

export function useStartDrill() {
  const queryClient = useQueryClient();
  return useMutation<DrillStartResponse, Error, string>({
    mutationFn: (backupId) => startDrill(backupId),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: AUTOMATION_QUERY_KEYS.drills }),
  });
}
