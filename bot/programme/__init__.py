"""Programme files: an event's run of show written in TOML (schema, parsing, plan, import)."""
