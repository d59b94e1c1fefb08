"""Subcommands of the ``servflow`` command line, one module each."""
