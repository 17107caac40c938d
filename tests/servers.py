"""Real ASGI server processes (uvicorn) for end-to-end tests and benchmarks, with fault controls."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url_for(name: str) -> str:
    """The environment's DATABASE_URL, pointed at database `name` (the test database)."""
    return urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{name}"))


class AsgiServer:
    """One uvicorn process serving the exchange on a fixed port; it can be killed, paused and started again."""

    def __init__(self, *, env: dict[str, str], port: int | None = None):
        self.port = port or free_port()
        self.env = {**os.environ, "DJANGO_SETTINGS_MODULE": "exchange.settings.test", **env}
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> "AsgiServer":
        command = [sys.executable, "-m", "uvicorn", "exchange.asgi:application", "--lifespan", "off",
                   "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
                   "--ws", "websockets-sansio", "--ws-per-message-deflate", "false"]  # as `make run` serves
        self.process = subprocess.Popen(command, cwd=ROOT, env=self.env)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server on port {self.port} exited with {self.process.returncode}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return self
            if time.monotonic() > deadline:
                self.kill()
                raise TimeoutError(f"no server on port {self.port} after {timeout} s")
            time.sleep(0.1)

    def kill(self) -> None:
        """kill -9: no cleanup, open transactions die with their connections."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def pause(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@contextlib.contextmanager
def asgi_servers(count: int, *, env: dict[str, str]):
    """Start `count` servers on one database and Redis; yield them; stop them all."""
    servers = [AsgiServer(env=env) for _ in range(count)]
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.stop()


class RedisServer:
    """A redis-server on 127.0.0.1 that a test may stop and start again (the machine's own on 6379, or one of the
    test's own on a free port)."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()

    def url_for(self, database: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        subprocess.run(["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", str(self.port),
                        "--save", "", "--appendonly", "no"], check=True, capture_output=True)
        self._wait(answering=True)

    def stop(self) -> None:
        subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(self.port), "shutdown", "nosave"], capture_output=True)
        self._wait(answering=False)

    def restart(self) -> None:
        self.stop()
        self.start()

    def _wait(self, *, answering: bool, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        ping = ["redis-cli", "-h", "127.0.0.1", "-p", str(self.port), "ping"]
        while (subprocess.run(ping, capture_output=True).returncode == 0) != answering:
            if time.monotonic() > deadline:
                raise TimeoutError(f"redis-server on port {self.port} did not {'start' if answering else 'stop'}")
            time.sleep(0.05)
