-- Account metadata from the rules document, shown on the role picker (never decided on).
ALTER TABLE aws_accounts ADD COLUMN environment TEXT;
ALTER TABLE aws_accounts ADD COLUMN owner TEXT;
ALTER TABLE aws_accounts ADD COLUMN description TEXT;

-- "My access" and the picker's "recently used": one person's own rows, newest first, found by
-- the identity (IdP + subject) the row names, paged by seq.
CREATE INDEX audit_events_by_person ON audit_events ((event->>'idp'), (event->>'subject'), seq DESC);
