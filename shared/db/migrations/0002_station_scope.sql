-- Row-level security helpers: the caller's scope is set per transaction
-- (set_config('qs.scope', …, true)); no scope set means no station's rows.
--   qs.scope = '*'            the service itself (event handlers, outbox relay)
--   qs.scope = '210100/…'     a station, or a prefix for a supervisor's subtree
--   qs.org   = 'org-…'        a service organization (sees only what is assigned to it)
CREATE FUNCTION qs_in_scope(station text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT CASE coalesce(current_setting('qs.scope', true), '')
        WHEN '' THEN false
        WHEN '*' THEN true
        ELSE station = current_setting('qs.scope', true)
          OR starts_with(station, current_setting('qs.scope', true) || '/')
    END
$$;

CREATE FUNCTION qs_is_org(kind text, assignee text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT kind = 'organization'
       AND coalesce(current_setting('qs.org', true), '') <> ''
       AND assignee = current_setting('qs.org', true)
$$;
