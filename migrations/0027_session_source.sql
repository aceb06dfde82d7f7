-- The admin sessions page lists who is signed in now, since when and from where. The client
-- address is the one the sign-in came from (as RequestMeta resolved it behind trusted proxies).
ALTER TABLE sessions ADD COLUMN source_ip TEXT;
CREATE INDEX sessions_created_at ON sessions (created_at);
