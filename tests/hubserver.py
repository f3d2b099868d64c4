"""A local imitation of the Hugging Face Hub's file endpoints, as ``hf_hub_download`` (huggingface_hub 2.4) uses them.

What the client does, read from ``huggingface_hub/file_download.py``:

1. ``HEAD {endpoint}/{repo}/resolve/{revision}/{filename}`` with ``Accept-Encoding: identity``, redirects not
   followed automatically: a redirect to the same host is followed by hand, one to another host (the CDN) is not,
   and the metadata is read from that redirect response itself: ``X-Repo-Commit`` (required),
   ``X-Linked-Etag`` or ``ETag`` (required; the sha256 for LFS files, the git blob sha1 otherwise),
   ``X-Linked-Size`` or, when not a redirect, ``Content-Length``, and ``Location``.
2. ``GET`` on that ``Location`` (the CDN), streamed. When the body breaks off (a clean close before
   ``Content-Length`` bytes), it retries the GET with ``Range: bytes=N-`` and expects ``206`` and ``Content-Range``.

No ``/api/`` call is made for a plain (non-Xet) file; the server answers any it gets with 404 and records it, so a
test can assert the exact traffic. Two servers run on 127.0.0.1 with random ports: the hub and a "CDN" on another
origin, as on the real hub, where LFS files redirect to a CDN host. Both stop at ``close()``.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote, urlsplit

COMMIT = "0123456789abcdef0123456789abcdef01234567"  # 40 hex: what X-Repo-Commit carries


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class HubFile:
    repo: str
    filename: str
    data: bytes
    lfs: bool = True
    advertised_sha256: str | None = None  # None: the true sha256; set to lie about it
    drop_after: int | None = None  # the first GET sends this many bytes, then closes the connection
    stall_after: int | None = None  # every GET sends this many bytes, then waits until the server closes
    key: str = ""  # the CDN path's name for this file

    @property
    def sha256(self) -> str:
        return self.advertised_sha256 or hashlib.sha256(self.data).hexdigest()


@dataclass
class Request:
    server: str  # "hub" or "cdn"
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)


class FakeHub:
    """``with FakeHub() as hub: hub.add(...); os.environ["HF_ENDPOINT"] = hub.endpoint``."""

    def __init__(self, timeout: float = 10.0):
        self.files: dict[tuple[str, str], HubFile] = {}
        self.requests: list[Request] = []
        self.timeout = timeout
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._get_started = threading.Event()
        self._hub = self._serve("hub")
        self._cdn = self._serve("cdn")

    # --- the test's side --------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._hub.server_address[1]}"

    @property
    def cdn(self) -> str:
        return f"http://127.0.0.1:{self._cdn.server_address[1]}"

    def add(self, repo: str, filename: str, data: bytes, **options) -> HubFile:
        f = HubFile(repo, filename, data, **options)
        f.key = hashlib.sha256(f"{repo}/{filename}".encode()).hexdigest()[:16]
        with self._lock:
            self.files[(repo, filename)] = f
        return f

    def seen(self, server: str | None = None, method: str | None = None) -> list[Request]:
        with self._lock:
            return [
                r
                for r in self.requests
                if (server is None or r.server == server) and (method is None or r.method == method)
            ]

    def wait_for_get(self, timeout: float = 10.0) -> bool:
        """Block until a GET on the CDN has started sending a body."""
        return self._get_started.wait(timeout)

    def close(self) -> None:
        self._closing.set()
        for server in (self._hub, self._cdn):
            server.shutdown()
            server.server_close()

    def __enter__(self) -> FakeHub:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- the servers ------------------------------------------------------------------------------

    def _serve(self, name: str) -> ThreadingHTTPServer:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = hub.timeout  # socket timeout: no handler waits forever

            def log_message(self, *args) -> None:  # keep pytest output clean
                pass

            def do_HEAD(self) -> None:
                self._handle(body=False)

            def do_GET(self) -> None:
                self._handle(body=True)

            def _handle(self, body: bool) -> None:
                with hub._lock:
                    hub.requests.append(Request(name, self.command, self.path, dict(self.headers.items())))
                if name == "hub":
                    hub._resolve(self, body)
                else:
                    hub._blob(self, body)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return server

    def _find(self, path: str) -> tuple[str, str, str] | None:
        """``/{org}/{name}/resolve/{revision}/{filename}`` -> (repo, revision, filename)."""
        parts = urlsplit(path).path.lstrip("/").split("/")
        if len(parts) < 5 or parts[2] != "resolve":
            return None
        return f"{parts[0]}/{parts[1]}", unquote(parts[3]), unquote("/".join(parts[4:]))

    def _resolve(self, h: BaseHTTPRequestHandler, body: bool) -> None:
        found = self._find(h.path)
        if found is None:  # /api/... and anything else
            return _reply(h, 404, {"X-Error-Code": "EntryNotFound"}, b'{"error":"not found"}', body)
        repo, revision, filename = found
        with self._lock:
            f = self.files.get((repo, filename))
            known_repo = any(r == repo for r, _ in self.files)
        if not known_repo:
            return _reply(h, 401, {"X-Error-Code": "RepoNotFound"}, b'{"error":"Repository not found"}', body)
        if revision not in ("main", COMMIT):
            return _reply(h, 404, {"X-Error-Code": "RevisionNotFound"}, b'{"error":"Invalid rev id"}', body)
        if f is None:
            headers = {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": COMMIT}
            return _reply(h, 404, headers, b'{"error":"Entry not found"}', body)
        common = {"X-Repo-Commit": COMMIT, "Accept-Ranges": "bytes"}
        if f.lfs:
            # The real hub: 302 to a signed CDN url; the sha256 and size of the LFS object ride on the redirect.
            location = f"{self.cdn}/repos/{f.key}/{quote(f.filename)}?X-Signature=test"
            headers = {
                **common,
                "Location": location,
                "ETag": f'"{git_blob_sha1(f.data[:64])}"',  # the pointer file's oid; X-Linked-Etag wins
                "X-Linked-Etag": f'"{f.sha256}"',
                "X-Linked-Size": str(len(f.data)),
            }
            return _reply(h, 302, headers, b"Found. Redirecting", body)
        headers = {**common, "ETag": f'"{git_blob_sha1(f.data)}"'}
        self._send_ranged(h, f, headers, body)

    def _blob(self, h: BaseHTTPRequestHandler, body: bool) -> None:
        parts = urlsplit(h.path).path.lstrip("/").split("/")
        with self._lock:
            f = next((f for f in self.files.values() if len(parts) > 1 and f.key == parts[1]), None)
        if f is None:
            return _reply(h, 404, {}, b"NoSuchKey", body)
        self._send_ranged(h, f, {"ETag": f'"{f.sha256}"'}, body)

    def _send_ranged(self, h: BaseHTTPRequestHandler, f: HubFile, headers: dict, body: bool) -> None:
        size = len(f.data)
        start = 0
        rng = h.headers.get("Range")
        if rng:
            spec = rng.strip().removeprefix("bytes=").split(",")[0]
            first = spec.split("-")[0]
            start = int(first) if first.isdigit() else 0
            if start >= size:
                return _reply(h, 416, {"Content-Range": f"bytes */{size}"}, b"", body)
            headers = {**headers, "Content-Range": f"bytes {start}-{size - 1}/{size}"}
        status = 206 if rng else 200
        payload = f.data[start:]
        if not body:
            return _reply(h, status, headers, payload, body=False)
        h.send_response(status)
        for k, v in {**headers, "Content-Type": "application/octet-stream"}.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(payload)))
        h.end_headers()
        cut = f.drop_after if f.drop_after is not None else f.stall_after
        if cut is None or cut >= len(payload):
            h.wfile.write(payload)
            h.wfile.flush()
            return
        h.wfile.write(payload[:cut])
        h.wfile.flush()
        self._get_started.set()
        if f.drop_after is not None:
            f.drop_after = None  # one-shot: the retry gets the rest
        else:
            # hang mid-body (a stalled network) until the test interrupts the client or the server closes
            deadline = time.monotonic() + self.timeout
            while not self._closing.is_set() and time.monotonic() < deadline:
                self._closing.wait(0.05)
        # A clean close (FIN) before Content-Length bytes: the client sees a truncated body.
        h.close_connection = True
        with contextlib.suppress(OSError):
            h.connection.shutdown(socket.SHUT_WR)


def _reply(h: BaseHTTPRequestHandler, status: int, headers: dict, payload: bytes, body: bool) -> None:
    h.send_response(status)
    for k, v in headers.items():
        h.send_header(k, v)
    h.send_header("Content-Length", str(len(payload)))
    h.end_headers()
    if body:
        h.wfile.write(payload)
