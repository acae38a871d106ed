"""The command line: thin modules that parse, call the public API, write files and
return an exit code. Each subcommand is one module here with ``register(subparsers)``."""
