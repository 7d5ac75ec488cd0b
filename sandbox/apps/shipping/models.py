# Oscar's shipping models, unchanged; they must be importable from the fork, whose label
# ("shipping") they keep. Migrations: see MIGRATION_MODULES in sandbox/settings.py.
from oscar.apps.shipping.models import *  # noqa: F403
