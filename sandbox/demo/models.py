from django.db import models


class OutboxMessage(models.Model):
    """An email the sandbox "sent": stored by ``sandbox.demo.mail.OutboxBackend``."""

    to = models.TextField(help_text="Recipients (To, Cc and Bcc), comma-separated.")
    from_email = models.CharField(max_length=320)
    subject = models.CharField(max_length=998)
    body = models.TextField(blank=True, help_text="The plain-text part.")
    html = models.TextField(blank=True, help_text="The HTML part, if any.")
    headers = models.JSONField(default=dict, help_text="Message headers, name to value.")
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created", "-pk"]

    def __str__(self) -> str:
        return f"{self.subject} → {self.to}"
