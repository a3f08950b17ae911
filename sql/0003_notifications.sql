-- Notifications and pings (docs/operations.md): an outbox, one row per event and target.
--
-- The primary key is what makes an event notify once however many replicas see it: each inserts its rows
-- with ON CONFLICT DO NOTHING, as schedule_slots does for scheduled times. A replica's delivery thread
-- leases a due row (leased_until), sends it, and records the outcome; a row whose sender died is leased
-- again once its lease ran out. `target` names a BACKUPD_NOTIFY entry by its position and scheme
-- ('1:json') or is 'ping' (BACKUPD_PING_URL): URLs and their secrets are never stored.
CREATE TABLE IF NOT EXISTS backupd.notifications (
    key             text NOT NULL,
    target          varchar(64) NOT NULL,
    event           varchar(32) NOT NULL,
    title           text NOT NULL,
    body            text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    leased_until    timestamptz,
    last_attempt_at timestamptz,
    delivered_at    timestamptz,
    gave_up_at      timestamptz,
    last_error      text,
    PRIMARY KEY (key, target)
);
CREATE INDEX IF NOT EXISTS idx_notifications_due ON backupd.notifications (next_attempt_at)
    WHERE delivered_at IS NULL AND gave_up_at IS NULL;
CREATE INDEX IF NOT EXISTS idx_notifications_last_attempt ON backupd.notifications (last_attempt_at);
