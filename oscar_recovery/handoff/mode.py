"""Which way work is done: by Celery workers, or inline by ``recovery_sweep`` run from cron.

``OSCAR_RECOVERY_TASK_MODE`` decides: ``"celery"``, ``"inline"``, or ``"auto"`` (default),
which means Celery when the project created a Celery app. Without one, Celery's fallback app
would publish every task to ``amqp://localhost`` where nobody listens (and nothing is sent),
so the app never publishes there: in inline mode nothing is handed to any broker.
"""

from __future__ import annotations

from oscar_recovery import app_settings

CELERY = "celery"
INLINE = "inline"
AUTO = "auto"
MODES = (AUTO, CELERY, INLINE)


def project_celery_app():
    """The project's own Celery app, or None. Celery's fallback app (the one ``shared_task``
    falls back to when nobody created an app) does not count; looking does not create it."""
    from celery import _state

    current = getattr(_state._tls, "current_app", None)
    candidates = [current, _state.default_app, *_state._get_active_apps()]
    for app in candidates:
        if app is not None and not _is_fallback(app):
            return app
    return None


def _is_fallback(app) -> bool:
    # What celery._state._get_current_app builds when no app exists.
    return app.main == "default" and not app.set_as_current


def task_mode() -> str:
    """``"celery"`` or ``"inline"``: the mode in force now (settings are read lazily)."""
    setting = app_settings.TASK_MODE
    if setting in (CELERY, INLINE):
        return setting
    return CELERY if project_celery_app() is not None else INLINE


def uses_celery() -> bool:
    return task_mode() == CELERY


def celery_runs_eagerly() -> bool:
    """Whether Celery runs this app's tasks eagerly (the project's app has
    ``task_always_eager``, as the sandbox without a broker does): each task runs inline, in
    the process that queues it, and no worker ever takes one."""
    if task_mode() != CELERY:
        return False
    app = project_celery_app()
    return bool(app is not None and app.conf.task_always_eager)


def needs_workers() -> bool:
    """Whether Celery workers must run for this app's work to be done: Celery mode, not
    eager."""
    return task_mode() == CELERY and not celery_runs_eagerly()
