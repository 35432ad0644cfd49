"""Open311 GeoReport v2 and the staff endpoints for field use, served with FastAPI."""
