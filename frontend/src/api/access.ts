/** Who the page's key is (GET /api/whoami) and the audit trail (GET /api/audit, admin). */

import type { AuditListResponse, Role, WhoAmIResponse } from '../types/backup';
import { expectShape, requestJson } from './client';

export async function getWhoAmI(): Promise<WhoAmIResponse> {
  const path = '/api/whoami';
  return expectShape(await requestJson<WhoAmIResponse>(path), (d) => typeof d.role === 'string', path);
}

export async function getAudit(limit = 50, before?: number): Promise<AuditListResponse> {
  const query = new URLSearchParams({ limit: String(limit) });
  if (before !== undefined) query.set('before', String(before));
  const path = `/api/audit?${query}`;
  return expectShape(await requestJson<AuditListResponse>(path), (d) => Array.isArray(d.entries), path);
}

/** What the page offers, by the smallest role that may do it (the server's rule table, docs/rest-api.md#roles). */
export const PERMISSIONS = {
  backup: 'operator',
  drill: 'operator',
  notifyTest: 'operator',
  restore: 'admin',
  delete: 'admin',
  download: 'admin',
  pin: 'admin',
  prune: 'admin',
  editSchedule: 'admin',
  audit: 'admin',
} as const satisfies Record<string, Role>;

export type Permission = keyof typeof PERMISSIONS;

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

export function roleMay(role: Role, permission: Permission): boolean {
  return RANK[role] >= RANK[PERMISSIONS[permission]];
}
