"""Retargeting audiences: segments turned into hashed, consent-gated lists on advertising
platforms. Sits after :mod:`oscar_recovery.segments` in the flow (a consumer of segment
memberships with its own outbound protocol).

* :mod:`.platforms`: the seam a platform implements, the loader, the fake, Meta and Google;
"""
