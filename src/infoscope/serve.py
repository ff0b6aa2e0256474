"""``infoscope serve``: a small local web server that shows the runs of a database, live.

It listens on 127.0.0.1 only and answers only requests that name it so (``Host:
127.0.0.1`` or ``localhost`` on its port: a page of another site cannot reach it through DNS
rebinding); it holds at most 32 connections, each closed after 10 s without a request. It reads
the database read-only (SQLite WAL readers never block the recorder that writes it), and sends
the report's page for each run with a note that makes the page poll for fresh values: a run's
views refresh within about a second of the recorder committing a record. Built on the standard library's :mod:`http.server`.

Routes
------
``/``                           the runs, with status and last record (refreshes itself)
``/runs/NAME``                  the report's views and tables of one run, live
``/api/runs``                   the runs as JSON
``/api/runs/NAME``              the run's values (:func:`infoscope.report.payload.run_payload`)
``/api/runs/NAME/revision``     a token that changes when the run gets new values
``/api/runs/NAME/tables``       the run's tables as an HTML fragment
"""

from __future__ import annotations

import html
import json
import sqlite3
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

from .errors import StoreError
from .report.html import page, run_section
from .report.payload import run_payload
from .report.tables import run_tables
from .store import Store, load

__all__ = ["RunServer", "make_server"]

HOST = "127.0.0.1"


class RunServer(ThreadingHTTPServer):
    """An HTTP server over one infoscope database (see the module docstring for its routes).

    Parameters
    ----------
    db : path
        An existing infoscope database; runs may be added to it while the server runs.
    port : int
        0 picks a free port (see :attr:`url`).
    every : float
        Seconds between a page's checks for new values.
    """

    daemon_threads = True  # a browser's open connections never hold up Ctrl-C

    def __init__(self, db: str | Path, port: int = 8050, every: float = 1.0, idle_timeout: float = 10.0,
                 max_connections: int = 32):
        if every <= 0:
            raise ValueError(f"every must be a positive number of seconds, got {every}")
        self.db = Path(db)
        load(self.db).close()  # "no database at …" / "not an infoscope database" before listening
        self.every = float(every)
        self._slots = threading.BoundedSemaphore(max_connections)
        # a connection that sends nothing for idle_timeout seconds is closed (its thread ends)
        handler = type("Handler", (_Handler,), {"timeout": float(idle_timeout)})
        super().__init__((HOST, port), handler)

    def process_request(self, request, client_address) -> None:
        """Serve on a thread of its own, at most ``max_connections`` at once: beyond them a
        connection is closed at once instead of holding one more thread."""
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def allowed_host(self, host: str | None) -> bool:
        """Whether a request's ``Host`` names this server (127.0.0.1 or localhost, on its port):
        a page of another site reaching it through DNS rebinding names its own host."""
        if not host:
            return False
        name, sep, port = host.rpartition(":")
        if not sep or not port.isdigit():
            name, port = host, str(self.server_address[1])
        return name.lower() in ("127.0.0.1", "localhost") and int(port) == self.server_address[1]

    @property
    def url(self) -> str:
        """The address to open in a browser."""
        return f"http://{HOST}:{self.server_address[1]}/"

    def store(self) -> Store:
        """A fresh read-only connection (one per request: requests run on their own threads)."""
        return load(self.db)


def make_server(db: str | Path, port: int = 8050, every: float = 1.0, idle_timeout: float = 10.0,
                max_connections: int = 32) -> RunServer:
    """A :class:`RunServer` bound to 127.0.0.1; call ``serve_forever()`` on it."""
    return RunServer(db, port, every, idle_timeout, max_connections)


class _Handler(BaseHTTPRequestHandler):
    server: RunServer

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        pass  # quiet: the CLI says where to look; errors go back to the browser

    def _send(self, body: str, content_type: str, status: HTTPStatus = HTTPStatus.OK) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if not self.server.allowed_host(self.headers.get("Host")):
            self._send(f"this server answers only to 127.0.0.1 and localhost on port {self.server.server_address[1]}, "
                       f"not to Host {self.headers.get('Host')!r}", "text/plain", HTTPStatus.FORBIDDEN)
            return
        parts = [unquote(p) for p in urlparse(self.path).path.strip("/").split("/") if p]
        if parts == ["favicon.ico"]:  # browsers ask for it; none is needed
            self.send_response(HTTPStatus.NO_CONTENT)
            self.end_headers()
            return
        try:
            with self.server.store() as st:
                self._route(st, parts)
        except StoreError as exc:
            missing = str(exc).startswith("no run named")
            self._send(str(exc), "text/plain", HTTPStatus.NOT_FOUND if missing else HTTPStatus.SERVICE_UNAVAILABLE)
        except sqlite3.OperationalError as exc:  # e.g. locked beyond the busy timeout
            self._send(f"the database cannot be read right now: {exc}", "text/plain", HTTPStatus.SERVICE_UNAVAILABLE)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the browser went away

    def _route(self, st: Store, parts: list[str]) -> None:
        if not parts:
            return self._send(_index(st, self.server.every), "text/html")
        if len(parts) == 2 and parts[0] == "runs":
            run = parts[1]
            revision = st.revision(run)  # (an unknown run: 404) read before the values, so a record landing in between shows at the next poll
            api = "/api/runs/" + quote(run, safe="")
            intro = f'<p><a href="/">all runs</a> · {html.escape(str(st.path))} · all information values in bits</p>'
            body = page(f"infoscope · {run}", intro, [run_section(st, run, live=True)], {run: run_payload(st, run)},
                        live={"api": api, "every": int(self.server.every * 1000), "revision": revision})
            return self._send(body, "text/html")
        if parts[:2] == ["api", "runs"]:
            if len(parts) == 2:
                return self._send(json.dumps(_runs(st)), "application/json")
            run = parts[2]
            if len(parts) == 3:
                return self._send(json.dumps(run_payload(st, run), allow_nan=False), "application/json")
            if len(parts) == 4 and parts[3] == "revision":
                return self._send(st.revision(run), "text/plain")
            if len(parts) == 4 and parts[3] == "tables":
                return self._send(run_tables(st, run), "text/html")
        self._send(f"nothing at {self.path}; try /", "text/plain", HTTPStatus.NOT_FOUND)


def _runs(st: Store) -> list[dict]:
    runs = st.runs()
    return [{"name": n, "status": s, "experiment": e, "records": int(c), "last_epoch": None if c == 0 else int(last)}
            for n, s, e, c, last in zip(runs.name, runs.status, runs.experiment, runs.records, runs.last_epoch)]


def _index(st: Store, every: float) -> str:
    rows = "".join(
        f'<li><a href="/runs/{quote(r["name"], safe="")}">{html.escape(r["name"])}</a> · {html.escape(str(r["experiment"]))}'
        f' · <b>{html.escape(r["status"])}</b> · {r["records"]} records'
        + ("" if r["last_epoch"] is None else f', last at epoch {r["last_epoch"]}') + "</li>"
        for r in _runs(st)
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta http-equiv='refresh' content='{max(2, int(every * 2))}'><title>infoscope · {html.escape(st.path.name)}</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem}li{margin:.3rem 0}</style>"
        f"</head><body><h1>infoscope</h1><p>{html.escape(str(st.path))}</p>"
        + (f"<ul class='runs'>{rows}</ul>" if rows else "<p>No runs yet; this page refreshes itself.</p>")
        + "</body></html>"
    )
