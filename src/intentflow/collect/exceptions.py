"""Request-level errors of the collector, each with its HTTP status and a clear reason."""

from __future__ import annotations


class CollectError(Exception):
    """A request the collector refuses as a whole."""

    status = 400

    def __init__(self, reason: str, *, status: int | None = None):
        super().__init__(reason)
        self.reason = reason
        if status is not None:
            self.status = status


class UnauthorizedError(CollectError):
    """No write key, or one the collector does not know."""

    status = 401


class PayloadTooLargeError(CollectError):
    """The body or the batch is over its limit."""

    status = 413


class UnsupportedMediaTypeError(CollectError):
    """The body is not JSON."""

    status = 415


class UnavailableError(CollectError):
    """The collector cannot make events durable right now (disk full, shutting down)."""

    status = 503
