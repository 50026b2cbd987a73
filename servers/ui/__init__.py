"""The web UI (component ``ui``): server-rendered pages (Jinja2 + HTMX) over the Python client."""
