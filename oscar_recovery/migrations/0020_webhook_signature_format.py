from django.db import migrations, models

CHOICES = [
    ("standard", "Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature)"),
    ("recovery", "X-Recovery-Signature (this app's earlier scheme)"),
]


class Migration(migrations.Migration):
    """Endpoints that exist keep the scheme their receivers verify (``recovery``, filled in
    by the first operation); endpoints created from now on default to Standard Webhooks."""

    dependencies = [
        ("oscar_recovery", "0019_confirmation_esp_call_started"),
    ]

    operations = [
        migrations.AddField(
            model_name="webhookendpoint",
            name="signature_format",
            field=models.CharField(
                choices=CHOICES,
                default="recovery",
                max_length=16,
                verbose_name="signature format",
            ),
        ),
        migrations.AlterField(
            model_name="webhookendpoint",
            name="signature_format",
            field=models.CharField(
                choices=CHOICES,
                default="standard",
                help_text=(
                    "Standard Webhooks: receivers verify with the standardwebhooks library or "
                    "any other that implements the spec. X-Recovery-Signature: for receivers "
                    "built on this app's earlier scheme."
                ),
                max_length=16,
                verbose_name="signature format",
            ),
        ),
    ]
