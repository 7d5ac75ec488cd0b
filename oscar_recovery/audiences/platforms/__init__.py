"""Advertising platforms an audience syncs to, one module per platform.

:mod:`.base` is the seam every platform implements (:class:`~.base.Platform`) and the loader
(:func:`~.base.get_platform`); :mod:`.fake` records calls for tests and dry runs; ``meta`` and
``google`` wrap the platforms' official SDKs (optional extras).
"""
