"""Who a shopper is: canonical addresses and phone numbers, contacts, identifiers.

It sits after ``capture/`` and before ``journeys/``: both use it, and like every lower layer
it never imports a higher one (nothing here imports ``capture/``, ``journeys/``,
``sending/`` or anything after them). :mod:`oscar_recovery.contacts.addresses` is
the one place an address typed by a shopper (or read from Oscar) becomes the form every
store, hash, match, suppression, limit and redaction uses.
"""
