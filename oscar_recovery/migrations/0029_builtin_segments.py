"""Install the built-in segments (by slug; existing ones are left alone)."""

from django.db import migrations


def install(apps, schema_editor):
    from oscar_recovery.segments.builtins import install as install_builtins

    install_builtins(apps.get_model("oscar_recovery", "Segment"))


class Migration(migrations.Migration):
    dependencies = [("oscar_recovery", "0028_segments")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
