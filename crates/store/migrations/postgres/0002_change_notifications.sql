-- Tell every replica about every change, so caches of credentials and
-- memberships drop what changed. Every change writes an audit event in its
-- own transaction, so a trigger here sends the notice exactly when the change
-- commits, and never for one that rolled back. Refused credentials change
-- nothing and are not announced.
CREATE FUNCTION latchkey_notify_change() RETURNS trigger AS $$
BEGIN
    IF NEW.action <> 'auth.refused' THEN
        PERFORM pg_notify('latchkey_changes', NEW.org_uuid);
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_events_notify AFTER INSERT ON audit_events
    FOR EACH ROW EXECUTE FUNCTION latchkey_notify_change();
