/** GET /api/status every 30 s (the health line, the notifications card, the chart) and the test notification. */

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';

import { getStatus, type NotifyTestResponse, type StatusResponse, sendTestNotification } from '../api/status';

export const STATUS_QUERY_KEY = ['status'] as const;
export const STATUS_REFRESH_MS = 30_000;

export function useStatus() {
  return useQuery<StatusResponse, Error>({
    queryKey: STATUS_QUERY_KEY,
    queryFn: getStatus,
    refetchInterval: STATUS_REFRESH_MS,
  });
}

export function useSendTestNotification() {
  const queryClient = useQueryClient();
  return useMutation<NotifyTestResponse, Error, void>({
    mutationFn: () => sendTestNotification(),
    // Delivery happens in the background: look again shortly for its outcome (notify.last_error).
    onSuccess: () => setTimeout(() => queryClient.invalidateQueries({ queryKey: STATUS_QUERY_KEY }), 3_000),
  });
}
