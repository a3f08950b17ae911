import { useSendTestNotification, useStatus } from '../hooks/useStatus';
import { useCan } from '../hooks/useWhoAmI';

/** Where failures are told (BACKUPD_NOTIFY), whether it works, and a test button. */
export function NotificationsCard() {
  const { data } = useStatus();
  const send = useSendTestNotification();
  const canTest = useCan('notifyTest');
  if (!data) return null;
  const notify = data.notify;
  return (
    <section className="card" aria-labelledby="notify-heading" data-testid="notifications">
      <h2 id="notify-heading">Notifications</h2>
      {notify.configured ? (
        <>
          <p className="lead">
            Failed backups, restores and drills, scheduled backups that did not start and backups older than{' '}
            {data.stale_after} are sent to:
          </p>
          <ul className="notify-targets">
            {notify.targets.map((t) => (
              <li key={t}>
                <code>{t}</code>
              </li>
            ))}
          </ul>
        </>
      ) : (
        <p className="hint" data-testid="notify-unconfigured">
          Not configured: set BACKUPD_NOTIFY on the server to one or more Apprise URLs (email, ntfy, Slack, a
          JSON webhook, …).
        </p>
      )}
      {notify.ping_configured ? <p className="hint">A monitor is pinged after every scheduled backup.</p> : null}
      {notify.last_error ? (
        <p className="message message-error">Last delivery failed: {notify.last_error}</p>
      ) : null}
      {notify.undelivered > 0 ? (
        <p className="hint">{notify.undelivered} waiting to be delivered (retried with back-off).</p>
      ) : null}
      {notify.configured && canTest ? (
        <div className="actions">
          <button
            type="button"
            className="button"
            disabled={send.isPending}
            onClick={() => send.mutate()}
            data-testid="notify-test"
          >
            {send.isPending ? 'Sending…' : 'Send test'}
          </button>
        </div>
      ) : null}
      {send.isSuccess ? (
        <p className="message message-success" role="status">
          Test notification queued for {send.data.queued} target{send.data.queued === 1 ? '' : 's'}.
        </p>
      ) : null}
      {send.error ? <p className="message message-error">{send.error.message}</p> : null}
    </section>
  );
}
