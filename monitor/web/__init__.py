"""The service's HTTP side (WSGI on waitress): feeds with validators, pages, health and
metrics. A route is one entry of ``app.ROUTES`` with its handler in the module of its
concern (``routes``: feeds, health, metrics; ``pages``: what people read)."""

from monitor.web.app import ROUTES, App, Route
from monitor.web.feedcache import Built, FeedCache, newest_time, write_feed_files
from monitor.web.health import health, metrics_text
from monitor.web.http import Request, Response
from monitor.web.server import WebServer, connection_limit_for, raise_fd_limit

__all__ = [
    "ROUTES",
    "App",
    "Built",
    "FeedCache",
    "Request",
    "Response",
    "Route",
    "WebServer",
    "connection_limit_for",
    "health",
    "metrics_text",
    "newest_time",
    "raise_fd_limit",
    "write_feed_files",
]
