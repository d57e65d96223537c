"""Make the audit log append-only in the database itself, so no code path can rewrite history.

UPDATE is refused by a trigger on both PostgreSQL and SQLite. DELETE is refused by the model and
its QuerySet; a DELETE trigger would also block the test runner's table flushes on SQLite.
"""

from django.db import migrations

SQLITE = """
CREATE TRIGGER mapapp_auditevent_no_update BEFORE UPDATE ON mapapp_auditevent
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
"""
SQLITE_REVERSE = "DROP TRIGGER IF EXISTS mapapp_auditevent_no_update;"

POSTGRES = """
CREATE FUNCTION mapapp_auditevent_refuse_update() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'audit events are append-only'; END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER mapapp_auditevent_no_update BEFORE UPDATE ON mapapp_auditevent
FOR EACH ROW EXECUTE FUNCTION mapapp_auditevent_refuse_update();
"""
POSTGRES_REVERSE = """
DROP TRIGGER IF EXISTS mapapp_auditevent_no_update ON mapapp_auditevent;
DROP FUNCTION IF EXISTS mapapp_auditevent_refuse_update();
"""


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    schema_editor.execute(POSTGRES if vendor == "postgresql" else SQLITE)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    schema_editor.execute(POSTGRES_REVERSE if vendor == "postgresql" else SQLITE_REVERSE)


class Migration(migrations.Migration):
    dependencies = [("mapapp", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
