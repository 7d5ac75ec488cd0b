"""The "Cart recovery" section of Oscar's dashboard, an Oscar dashboard app of its own
(:mod:`.apps`): reports, A/B tests, products, baskets with their timeline, staff actions,
CSV export, and the navigation entry for ``OSCAR_DASHBOARD_NAVIGATION``."""
