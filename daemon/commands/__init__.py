"""The subcommands of ``timbrecastd``, one module each (``cli`` assembles them)."""
