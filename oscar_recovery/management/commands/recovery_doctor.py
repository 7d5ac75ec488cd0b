from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from oscar_recovery.operations import doctor


class Command(BaseCommand):
    @property
    def help(self) -> str:
        return _(
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
