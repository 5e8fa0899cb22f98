"""The `netopt` command line: `app.py` is the entry point, one module per command group."""
