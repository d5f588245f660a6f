"""One module per command: orchestration between config, backends and the core."""
