"""The delivery engine: ``plan`` (pure per-endpoint state machine), ``fleet`` (many endpoints
at once, each with a deadline) and ``runner`` (the worker's deliverer: store in, states out)."""
