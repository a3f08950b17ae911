/**
 * The backup list and what is done to a backup in it: create, delete, pin. Each change
 * refreshes the list.
 */

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';

import { createBackup, deleteBackup, listBackups, setBackupPinned } from '../api';
import type { BackupJob, BackupJobStartResponse, BackupListResponse } from '../types/backup';
import { BACKUP_QUERY_KEYS } from './queryKeys';

export function useBackupList() {
  return useQuery<BackupListResponse, Error>({
    queryKey: BACKUP_QUERY_KEYS.list,
    queryFn: listBackups,
  });
}

/** A mutation whose success changes the backup list. */
export function useListMutation<T, V>(mutationFn: (variables: V) => Promise<T>) {
  const queryClient = useQueryClient();
  return useMutation<T, Error, V>({
    mutationFn,
    onSuccess: () => queryClient.invalidateQueries({ queryKey: BACKUP_QUERY_KEYS.list }),
  });
}

export function useCreateBackup() {
  return useListMutation<BackupJobStartResponse, void>(() => createBackup());
}

export function useDeleteBackup() {
  return useListMutation<void, string>((jobId) => deleteBackup(jobId));
}

export function usePinBackup() {
  return useListMutation<BackupJob, { id: string; pinned: boolean }>(({ id, pinned }) => setBackupPinned(id, pinned));
}
