"""The "Cart recovery" section of Oscar's dashboard (reports, baskets, staff actions)."""
