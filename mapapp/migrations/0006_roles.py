"""The four roles as Django groups, with their permissions.

- volunteer: everyone who signs up (submit sightings, vote, flag, comment: being signed in and
  not banned is what the services check, so the group carries no model permission).
- moderator: `mapapp.moderate` (hide, ban, split, merge, expert verdicts, flags, comments).
- researcher: read access (the API's higher limits come with its tokens, issue 6).
- admin: every mapapp permission.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = ("volunteer", "moderator", "researcher", "admin")


def create_roles(apps, schema_editor):
    # Permissions are normally created after all migrations; these groups need them now.
    app_config = apps.get_app_config("mapapp")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    groups = {name: Group.objects.get_or_create(name=name)[0] for name in ROLES}
    mapapp = Permission.objects.filter(content_type__app_label="mapapp")
    groups["moderator"].permissions.add(*mapapp.filter(codename="moderate"))
    groups["researcher"].permissions.add(*mapapp.filter(codename__in=["view_camera", "view_neighbourhood"]))
    groups["admin"].permissions.add(*mapapp)


def drop_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("mapapp", "0005_verification"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, drop_roles)]
