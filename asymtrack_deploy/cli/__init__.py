"""The ``asymtrack-deploy`` command line: one module per command, combined in ``main``."""
