from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from oscar_recovery.management.base import RecoveryCommand
from oscar_recovery.operations import doctor


class Command(RecoveryCommand):
    help_text = gettext_lazy(
        "List what this shop has wrong for production, each with how to fix it. Exits "
        "with status 1 when anything is found."
    )

    def handle(self, *args, **options):
        findings = doctor.diagnose()
        for finding in findings:
            self.stdout.write(f"[{finding.id}] {finding.message}")
            self.stdout.write("    " + _("Fix: %(fix)s") % {"fix": finding.fix})
        if not findings:
            self.stdout.write(self.style.SUCCESS(_("Nothing wrong found.")))
            return
        self.stderr.write(_("%(count)d problem(s) found.") % {"count": len(findings)})
        raise SystemExit(1)
