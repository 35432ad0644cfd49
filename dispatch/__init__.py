"""Dispatch: ranking the incident queue for dispatchers and crews."""
