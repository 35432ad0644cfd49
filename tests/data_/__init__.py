"""Tests of the demo-city generator (named data_ so as not to shadow the data package)."""
