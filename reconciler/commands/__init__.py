"""One module per command, each a function that returns an exit code: orchestration between
config, backends and the core. They never print or exit themselves: ``cli.py`` passes the
``echo`` they print with and exits with what they return."""
