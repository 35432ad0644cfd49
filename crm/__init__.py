"""The tracking-number store: requests, incidents, statuses, audit and intake."""
