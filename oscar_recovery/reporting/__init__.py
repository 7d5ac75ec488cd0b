"""6. Figures: the daily aggregation behind the dashboard, the report queries, the
statistics (one z-test, sample sizes), staff alerts for valuable baskets and the weekly
summary. Its receiver (alerts on ``journeys_abandoned``) is in :mod:`.receivers`."""
