"""Who a shopper is: canonical addresses, contacts, the identifiers that lead to them, and
whether an address was shown to be its holder's.

Sits after :mod:`oscar_recovery.capture` (which records what a request tells) and before
:mod:`oscar_recovery.journeys` and :mod:`oscar_recovery.campaigns` (which act for a person).
It never imports them: lower layers never import higher ones.
"""
