"""Sub-commands of the ``otj`` command line, one module per top-level command.

Each module defines ``register(subparsers)`` that adds its parser and sets ``func`` (a callable
taking the parsed namespace and returning the exit code); ``otj.cli.COMMANDS`` lists them.
Modules keep their top-level imports light: heavy imports happen inside the handlers so
``otj --help`` stays fast.
"""
