"""Bundled example rules and invitations for ``otj rules test`` (invented, example.com data)."""
