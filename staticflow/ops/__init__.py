"""Op declarations (one registry) and their Python wrappers."""
