"""The ``xaikit`` command line."""
