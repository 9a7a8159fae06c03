-- The relay's mailbox store: the JavaScript relay (js/relay/mailbox/store.js)
-- and the Go relay (go/relay/mailbox/store.go) both create it from this file,
-- so a directory written by one opens in the other (user_version 1).
-- Times are ms since the epoch.
--
--   mail     one row per deposit, UNIQUE (sender, recipient, ref): a repeated
--            deposit finds its row instead of storing a second one
--   notices  what a sender is told about its mail ('delivered' | 'expired')
--   peers    when each peer last held a mailbox stream here: mail is taken
--            only for peers seen within the TTL (the relay is one of theirs)
--   boxes, totals   per-recipient and whole-store counts, kept by triggers in
--            the same transaction as the mail rows, so quota checks are one
--            row read and can never drift from the rows themselves

CREATE TABLE mail (
  mid          INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: a late ack cannot hit newer mail
  recipient    TEXT NOT NULL,
  sender       TEXT NOT NULL,
  ref          TEXT NOT NULL,
  sealed       BLOB NOT NULL,
  size         INTEGER NOT NULL,
  deposited_at INTEGER NOT NULL, -- ms since epoch
  expires_at   INTEGER NOT NULL,
  UNIQUE (sender, recipient, ref)
);
CREATE INDEX mail_by_recipient ON mail (recipient, mid);
CREATE INDEX mail_by_expiry ON mail (expires_at);

CREATE TABLE notices (
  nid        INTEGER PRIMARY KEY AUTOINCREMENT,
  sender     TEXT NOT NULL,  -- who is told: the mail's sender
  kind       TEXT NOT NULL CHECK (kind IN ('delivered', 'expired')),
  recipient  TEXT NOT NULL,
  ref        TEXT NOT NULL,
  at         INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX notices_by_sender ON notices (sender, nid);
CREATE INDEX notices_by_expiry ON notices (expires_at);

CREATE TABLE peers (
  peer      TEXT PRIMARY KEY,
  last_seen INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE boxes (
  recipient TEXT PRIMARY KEY,
  count     INTEGER NOT NULL,
  bytes     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE totals (only INTEGER PRIMARY KEY CHECK (only = 0), count INTEGER NOT NULL, bytes INTEGER NOT NULL);
INSERT INTO totals VALUES (0, 0, 0);

CREATE TRIGGER mail_added AFTER INSERT ON mail BEGIN
  INSERT INTO boxes (recipient, count, bytes) VALUES (NEW.recipient, 1, NEW.size)
    ON CONFLICT (recipient) DO UPDATE SET count = count + 1, bytes = bytes + NEW.size;
  UPDATE totals SET count = count + 1, bytes = bytes + NEW.size;
END;
CREATE TRIGGER mail_removed AFTER DELETE ON mail BEGIN
  UPDATE boxes SET count = count - 1, bytes = bytes - OLD.size WHERE recipient = OLD.recipient;
  DELETE FROM boxes WHERE recipient = OLD.recipient AND count = 0;
  UPDATE totals SET count = count - 1, bytes = bytes - OLD.size;
END;
