"""Running the collector: in the foreground (``intentflow serve``) or in a background thread."""

from __future__ import annotations

import signal
import socket
import threading
import time
from types import FrameType, TracebackType

import uvicorn

from intentflow.collect.app import create_app
from intentflow.collect.runtime import CollectorRuntime
from intentflow.config import Settings


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Serve until SIGINT or SIGTERM, then flush the log into the lake and exit.

    uvicorn shuts down gracefully on SIGTERM and then raises the signal again; the handler set
    here turns that second delivery into a normal exit with status 0.
    """
    signal.signal(signal.SIGTERM, _exit_cleanly)
    config = uvicorn.Config(
        create_app(settings),
        host=host,
        port=port,
        log_level="info",
        access_log=False,
        loop="uvloop",
        http="httptools",
        timeout_graceful_shutdown=10,
    )
    uvicorn.Server(config).run()


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BackgroundServer:
    """The collector in a thread of this process, for the demo and for tests."""

    def __init__(self, settings: Settings, host: str = "127.0.0.1", port: int | None = None):
        self.settings = settings
        self.host = host
        self.port = port or free_port()
        self.runtime = CollectorRuntime(settings)
        config = uvicorn.Config(
            create_app(runtime=self.runtime),
            host=host,
            port=self.port,
            log_level="warning",
            access_log=False,
            loop="asyncio",
            lifespan="on",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="collector", daemon=True)

    @property
    def url(self) -> str:
        """Base URL of the running server."""
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> BackgroundServer:
        self.runtime.start()
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the collector did not start")
            time.sleep(0.02)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)
        self.runtime.stop()
