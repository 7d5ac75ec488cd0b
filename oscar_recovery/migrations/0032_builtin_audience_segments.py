"""Install the segment the recent-buyers exclusion audience needs, and the built-in
recency audiences (by slug; existing ones are left alone)."""

from django.db import migrations


def install(apps, schema_editor):
    from oscar_recovery.audiences.builtins import install as install_audiences
    from oscar_recovery.segments.builtins import install as install_segments

    segment = apps.get_model("oscar_recovery", "Segment")
    install_segments(segment)
    install_audiences(apps.get_model("oscar_recovery", "Audience"), segment)


class Migration(migrations.Migration):
    dependencies = [("oscar_recovery", "0031_audiences")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
