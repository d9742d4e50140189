"""Moved to ``otj.commands.runtime`` (the store reads no configuration; commands resolve it).

Kept only for ``otj/commands/gateway.py`` and ``otj/commands/calls.py``, which other branches
edit at the same time: at merge, import ``otj.commands.runtime`` there and delete this module.
"""

from otj.commands.runtime import add_database_arguments, echo, open_store, positive_int

__all__ = ["add_database_arguments", "echo", "open_store", "positive_int"]
