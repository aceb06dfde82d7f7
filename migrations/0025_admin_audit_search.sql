-- The admin audit search (src/db/admin_audit.rs) filters on fields inside the event JSON and
-- pages newest first by seq (keyset). One expression index per filter keeps each filter an index
-- scan on a large log; the time range uses `at`.
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_subject ON audit_events ((event->>'subject'), seq);
CREATE INDEX audit_events_idp ON audit_events ((event->>'idp'), seq);
CREATE INDEX audit_events_kind ON audit_events ((event->>'kind'), seq);
CREATE INDEX audit_events_outcome ON audit_events ((event->>'outcome'), seq);
CREATE INDEX audit_events_role_arn ON audit_events ((event->'details'->>'role_arn'), seq);
CREATE INDEX audit_events_account ON audit_events
    ((split_part(event->'details'->>'role_arn', ':', 5)), seq);
