"""Pure spatial work on GeoDataFrames and arrays: layers, geocoding, snapping, networks.

Nothing here knows about the store or the user interface.
"""
