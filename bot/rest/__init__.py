"""The REST front: ``/api/v1/ai/*`` for the platform team and tools, next to Slack (``docs/rest-api.md``).

Like the Slack front it is thin: requests are validated with pydantic at the edge, every decision is
the service's, and every change lands in the same audit log.
"""

from bot.rest.monitoring import monitoring_routes
from bot.rest.routes import build_api, rest_routes

__all__ = ["build_api", "monitoring_routes", "rest_routes"]
