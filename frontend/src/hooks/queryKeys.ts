/**
 * TanStack Query keys:
 *   ['backup']                  base key
 *   ['backup', 'list']          GET /api/backup
 *   ['backup', 'job', id]       one backup job
 *   ['backup', 'restore', id]   one restore job
 *   ['schedule']                GET /api/schedule
 *   ['drills', 'list']          GET /api/drills
 */

export const BACKUP_QUERY_KEYS = {
  all: ['backup'] as const,
  list: ['backup', 'list'] as const,
  job: (id: string) => ['backup', 'job', id] as const,
  restore: (id: string) => ['backup', 'restore', id] as const,
};

export const AUTOMATION_QUERY_KEYS = {
  schedule: ['schedule'] as const,
  drills: ['drills', 'list'] as const,
};
