"""Operations: whether the app is running, as the owner sees it.

``health``: the figures (last sweep, last email, queue age, failures, workers) and the
verdicts drawn from them, shared by the dashboard banner and the JSON endpoint.
``heartbeat``: workers record the last task they ran. ``doctor``: what a production shop has
wrong, for ``manage.py recovery_doctor`` and ``manage.py check --deploy``.
"""
