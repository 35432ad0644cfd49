"""The demo-city generator and the files it writes (generated files are ignored by git)."""
