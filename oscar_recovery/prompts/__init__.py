"""On-site prompts: exit intent, email capture, guest checkout and the returning-visitor
banner, decided on the server and shown by one static script.

- :mod:`.state` reads and writes the visitor's cookies (visit, caps) and classifies devices;
- :mod:`.targeting` decides which prompts a visitor sees on a page, from one cached query;
- :mod:`.service` records events and captured emails, and reveals vouchers;
- :mod:`.views` are the two JSON endpoints; :mod:`.render` renders the prompts for
  ``templatetags/recovery.py``; :mod:`.figures` their statistics;
- :mod:`.admin`, :mod:`.forms`, :mod:`.receivers` and :mod:`.install` (the default prompts).
"""
