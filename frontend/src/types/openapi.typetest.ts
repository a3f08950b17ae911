/**
 * Compile-time proof that the page's hand-written types (backup.ts) are the server's OpenAPI document
 * (openapi.gen.ts, generated from the app by scripts/openapi-types.mjs): `tsc --noEmit` (npm run
 * typecheck, make test-frontend) fails when they drift. Nothing here runs; nothing imports this file.
 *
 * "Agree" is type identity, not mere assignability: a property optional on one side and required on
 * the other, `T` against `T | null`, a property only one side has (optional or not), a wider or
 * narrower union — each fails. The error names the differing properties, e.g.
 *   Type '{ differing: "pinned"; page: BackupJob; document: ... }' does not satisfy the constraint 'true'.
 * The server is the truth: fix backup.ts (or the server's schema), then `make openapi-types`.
 */

import type {
  AuditEntryResponse,
  AuditListResponse,
  BackupContentInfo,
  BackupJob,
  BackupJobProgress,
  BackupJobStartResponse,
  BackupJobStatus,
  BackupListItem,
  BackupListResponse,
  BackupManifest,
  BackupReuse,
  BackupTrigger,
  DrillListResponse,
  DrillResult,
  DrillStartResponse,
  DrillStatus,
  DrillTableResult,
  RestoreJob,
  RestoreJobProgress,
  RestoreJobStartResponse,
  RestoreJobStatus,
  RestoreOptions,
  RetentionPolicy,
  Role,
  ScheduledBackupSummary,
  ScheduleResponse,
  ScheduleUpdate,
  TableChanges,
  WhoAmIResponse,
} from './backup';
import type { components, paths } from './openapi.gen';

type S = components['schemas'];

/** true when A and B are the same type (TypeScript's identity relation), else false. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

/** The properties in which two object types differ: only on one side, or of another type or optionality. */
type Differing<A, B> = {
  [K in keyof A | keyof B]-?: K extends keyof A
    ? K extends keyof B
      ? Equal<A[K], B[K]> extends true
        ? never
        : K
      : K
    : K;
}[keyof A | keyof B];

type Agree<Page, Document> = Equal<Page, Document> extends true
  ? true
  : { differing: [Page] extends [object] ? Differing<Page, Document> : 'the union'; page: Page; document: Document };

type Assert<T extends true> = T;

/** The JSON body of an operation's response, or of its request. */
type Reply<P extends keyof paths, M extends keyof paths[P], Code extends number> = paths[P][M] extends {
  responses: { [C in Code]: { content: { 'application/json': infer Body } } };
}
  ? Body
  : never;
type Sent<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends {
  requestBody?: { content: { 'application/json': infer Body } };
}
  ? Body
  : never;

/** Each type of backup.ts against its schema in the document. */
export type SchemaChecks = [
  Assert<Agree<BackupJobStatus, S['BackupJobStatus']>>,
  Assert<Agree<RestoreJobStatus, S['RestoreJobStatus']>>,
  Assert<Agree<BackupTrigger, S['BackupTrigger']>>,
  Assert<Agree<BackupContentInfo, S['BackupContentInfo']>>,
  Assert<Agree<BackupReuse, S['BackupReuse']>>,
  Assert<Agree<BackupManifest, S['BackupManifest']>>,
  Assert<Agree<BackupJobProgress, S['BackupJobProgress']>>,
  Assert<Agree<BackupJob, S['BackupJobResponse']>>,
  Assert<Agree<BackupListItem, S['BackupListItem']>>,
  Assert<Agree<BackupListResponse, S['BackupListResponse']>>,
  Assert<Agree<RestoreJobProgress, S['RestoreJobProgress']>>,
  Assert<Agree<RestoreJob, S['RestoreJobResponse']>>,
  Assert<Agree<TableChanges, S['TableChanges']>>,
  Assert<Agree<RestoreOptions, S['RestoreOptions']>>,
  Assert<Agree<BackupJobStartResponse, S['BackupJobStartResponse']>>,
  Assert<Agree<RestoreJobStartResponse, S['RestoreJobStartResponse']>>,
  Assert<Agree<RetentionPolicy, S['RetentionPolicy']>>,
  Assert<Agree<ScheduledBackupSummary, S['ScheduledBackupSummary']>>,
  Assert<Agree<ScheduleResponse, S['ScheduleResponse']>>,
  Assert<Agree<DrillStatus, S['DrillStatus']>>,
  Assert<Agree<DrillTableResult, S['DrillTableResult']>>,
  Assert<Agree<DrillResult, S['DrillResult']>>,
  Assert<Agree<DrillListResponse, S['DrillListResponse']>>,
  Assert<Agree<DrillStartResponse, S['DrillStartResponse']>>,
  Assert<Agree<Role, S['Role']>>,
  Assert<Agree<WhoAmIResponse, S['WhoAmIResponse']>>,
  Assert<Agree<AuditEntryResponse, S['AuditEntryResponse']>>,
  Assert<Agree<AuditListResponse, S['AuditListResponse']>>,
];

/** What the page's API client (src/api/) sends to and expects from each operation it calls. */
export type OperationChecks = [
  Assert<Agree<BackupListResponse, Reply<'/api/backup', 'get', 200>>>,
  Assert<Agree<BackupJobStartResponse, Reply<'/api/backup', 'post', 202>>>,
  Assert<Agree<BackupJob, Reply<'/api/backup/{job_id}', 'get', 200>>>,
  Assert<Agree<BackupJob, Reply<'/api/backup/{job_id}', 'patch', 200>>>,
  Assert<Agree<RestoreJobStartResponse, Reply<'/api/backup/restore', 'post', 202>>>,
  Assert<Agree<RestoreJobStartResponse, Reply<'/api/backup/{job_id}/restore', 'post', 202>>>,
  Assert<Agree<RestoreOptions | null, Sent<'/api/backup/{job_id}/restore', 'post'>>>,
  Assert<Agree<RestoreJob, Reply<'/api/backup/restore/{job_id}', 'get', 200>>>,
  Assert<Agree<ScheduleResponse, Reply<'/api/schedule', 'get', 200>>>,
  Assert<Agree<ScheduleResponse, Reply<'/api/schedule', 'put', 200>>>,
  Assert<Agree<ScheduleUpdate, Sent<'/api/schedule', 'put'>>>,
  Assert<Agree<DrillStartResponse, Reply<'/api/backup/{job_id}/drill', 'post', 202>>>,
  Assert<Agree<DrillListResponse, Reply<'/api/drills', 'get', 200>>>,
  Assert<Agree<DrillResult, Reply<'/api/drills/{drill_id}', 'get', 200>>>,
  Assert<Agree<WhoAmIResponse, Reply<'/api/whoami', 'get', 200>>>,
  Assert<Agree<AuditListResponse, Reply<'/api/audit', 'get', 200>>>,
];

/** The check itself: each kind of drift is refused (were one accepted, its @ts-expect-error would fail). */
export type CheckerChecks = [
  // a property optional on the page, required in the document
  // @ts-expect-error
  Assert<Agree<Omit<BackupJob, 'pinned'> & { pinned?: boolean }, S['BackupJobResponse']>>,
  // nullable in the document, not on the page
  // @ts-expect-error
  Assert<Agree<Omit<RestoreJob, 'tables'> & { tables: string[] }, S['RestoreJobResponse']>>,
  // an optional property only the page has
  // @ts-expect-error
  Assert<Agree<BackupListItem & { label?: string }, S['BackupListItem']>>,
  // a narrower union on the page
  // @ts-expect-error
  Assert<Agree<Exclude<BackupTrigger, 'safety'>, S['BackupTrigger']>>,
  // a nested object that drifted
  // @ts-expect-error
  Assert<Agree<Omit<ScheduleResponse, 'retention'> & { retention: Partial<RetentionPolicy> }, S['ScheduleResponse']>>,
  // the wrong operation
  // @ts-expect-error
  Assert<Agree<BackupJob, Reply<'/api/backup', 'get', 200>>>,
];
