"""2. Quiet journeys move on: the periodic sweep's abandon and expire stages (the
``Transition`` table), and browse abandonment (journeys of viewed products, ended by an
order in :mod:`.receivers`)."""
