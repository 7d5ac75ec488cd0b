"""Who a shopper is: canonical addresses and phone numbers, contacts, identifiers.

It sits after ``capture/`` and before ``journeys/`` in the order data flows, and like every
package here it only imports from the layers below it: nothing in ``contacts/`` imports
``journeys/``, ``sending/`` or anything later. :mod:`oscar_recovery.contacts.addresses` is
the one place an address typed by a shopper (or read from Oscar) becomes the form every
store, hash, match, suppression, limit and redaction uses.
"""
