"""The front door: landing page, dashboard and health checks."""
