"""On-site prompts: exit intent, email capture, guest checkout and the returning-visitor
banner, decided on the server and shown by one static script.

- :mod:`.state` reads and writes the visitor's cookies (visit, caps) and classifies devices;
- :mod:`.eligibility` decides which prompts a visitor sees on a page, from one cached query;
- :mod:`.service` records events and captured emails, and reveals vouchers;
- :mod:`.views` are the two JSON endpoints; ``templatetags/recovery.py`` renders the prompts.
"""
