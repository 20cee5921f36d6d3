"""The built-in demo target: an HTTP server that answers every request after a seeded delay."""
