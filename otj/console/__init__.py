"""The admin console's cores: configuration edits with ETags, the live preview, pages' data.

Pure where it can be; the routers in ``otj.api`` (``config_api``, ``console_*``) are the edges.
"""
