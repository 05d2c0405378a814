"""Identity's public logic functions (what other domains may call)."""
