"""Media relay control: rtpengine's ng protocol (codec, client, engine pool, per-rule requests)."""
