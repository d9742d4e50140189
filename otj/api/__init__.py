"""The HTTP API: ``otj.api.app.create_app`` assembles the routers listed in ``AREAS``."""
