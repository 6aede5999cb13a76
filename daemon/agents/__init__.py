"""Background agents: the protocol, the entry-point registry, the idle-time scheduler, the built-ins."""
