"""The academy's home page, language switch, health check and its own "not found"; carries the templates and
static files."""
