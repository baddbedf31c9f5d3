-- A change notice also names the process that committed the change
-- (`latchkey.replica`, set on each of its connections), on a channel of its
-- own. That process has already dropped what changed, at commit; it skips
-- its own notices instead of dropping it a second time. The first channel
-- keeps its payload for replicas that do not read the second yet.
CREATE OR REPLACE FUNCTION latchkey_notify_change() RETURNS trigger AS $$
BEGIN
    IF NEW.action <> 'auth.refused' THEN
        PERFORM pg_notify('latchkey_changes', NEW.org_uuid);
        PERFORM pg_notify(
            'latchkey_changes_by',
            NEW.org_uuid || ' ' || coalesce(current_setting('latchkey.replica', true), '')
        );
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
