"""Who a shopper is: canonical addresses and phone numbers, contacts linked across visits,
the identifiers that lead to them, their merges and facts, and whether an address was shown
to be its holder's.

It sits after ``capture/`` and before ``journeys/`` and ``campaigns/``: they use it, and
like every lower layer it never imports a higher one (nothing here imports ``capture/``,
``journeys/``, ``sending/`` or anything after them). :mod:`oscar_recovery.contacts.addresses`
is the one place an address typed by a shopper (or read from Oscar) becomes the form every
store, hash, match, suppression, limit and redaction uses.
"""
