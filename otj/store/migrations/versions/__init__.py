"""Migration scripts, oldest first (``vNNNN_<what>.py``)."""
