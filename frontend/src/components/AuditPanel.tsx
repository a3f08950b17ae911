import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';

import { getAudit, roleMay } from '../api/access';
import { useWhoAmI } from '../hooks/useWhoAmI';
import { formatDateTime } from '../utils/format';

const PAGE = 20;

/** The audit trail, newest first, a page at a time (GET /api/audit): shown once the server says the key is an admin's. */
export function AuditPanel() {
  const who = useWhoAmI().data;
  const allowed = !!who && roleMay(who.role, 'audit');
  const [pages, setPages] = useState<number[]>([]); // `before` of each older page shown
  const before = pages.at(-1);
  const audit = useQuery({
    queryKey: ['audit', before ?? null],
    queryFn: () => getAudit(PAGE, before),
    enabled: allowed,
    refetchInterval: before === undefined ? 10_000 : false,
  });
  if (!allowed) return null;
  const entries = audit.data?.entries ?? [];
  const next = audit.data?.next_before ?? null;
  return (
    <section className="card" aria-labelledby="audit-heading" data-testid="audit">
      <h2 id="audit-heading">Audit trail</h2>
      <p className="lead">Every change, restore, download and export, with the key that asked for it.</p>
      {audit.error ? <p className="message message-error">{audit.error.message}</p> : null}
      {entries.length ? (
        <div className="table-scroll">
          <table className="audit-table">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">What</th>
                <th scope="col">Id</th>
                <th scope="col">Answer</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((e) => (
                <tr key={e.id} data-testid="audit-entry">
                  <td>{formatDateTime(e.at)}</td>
                  <td>
                    {e.key_name ?? 'no key'}
                    {e.source === 'cli' ? ' (command line)' : e.client ? ` from ${e.client}` : ''}
                  </td>
                  <td>
                    {e.action} <code>{`${e.method} ${e.path}`}</code>
                  </td>
                  <td>
                    <code>{e.job_id ?? e.target_id ?? ''}</code>
                  </td>
                  <td>{e.source === 'cli' ? (e.status === 0 ? 'done' : 'failed') : e.status}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <p>{audit.isPending ? 'Loading…' : 'Nothing recorded yet.'}</p>
      )}
      <div className="actions">
        {pages.length ? (
          <button type="button" className="button" onClick={() => setPages((p) => p.slice(0, -1))}>
            Newer
          </button>
        ) : null}
        {next !== null ? (
          <button type="button" className="button" onClick={() => setPages((p) => [...p, next])}>
            Older
          </button>
        ) : null}
      </div>
    </section>
  );
}
