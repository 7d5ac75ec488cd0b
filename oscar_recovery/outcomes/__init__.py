"""5. What came back: the ESP's tracking events (through django-anymail) and their
webhook URLs, restore links that bring a basket back, unsubscribe, and attribution of
orders to the email that won them. Its receivers are in :mod:`.receivers`."""
