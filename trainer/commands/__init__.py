"""The subcommands of ``trainer``, one module each (``cli`` assembles them)."""
