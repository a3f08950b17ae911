import { useQuery } from '@tanstack/react-query';

import { getWhoAmI, type Permission, roleMay } from '../api/access';
import type { Role } from '../types/backup';

export const WHOAMI_QUERY_KEY = ['whoami'] as const;

/** The key's name and role. */
export function useWhoAmI() {
  return useQuery({ queryKey: WHOAMI_QUERY_KEY, queryFn: getWhoAmI, staleTime: 60_000, retry: false });
}

/**
 * The role the page acts for. Until the server has answered, and when it cannot say (a server without
 * /api/whoami), nothing is hidden: the server refuses what the key may not do either way.
 */
export function useRole(): Role {
  return useWhoAmI().data?.role ?? 'admin';
}

/** True when the key's role may use `permission` (the page hides what it may not). */
export function useCan(permission: Permission): boolean {
  return roleMay(useRole(), permission);
}
