#!/usr/bin/python3
"""
feedserver.py — a small HTTP feed server for tests (standard library only).

Serves the files under --root on 127.0.0.1 (port 0 unless --port), prints
"port N" on stdout once it listens, and exits on SIGTERM, when its parent goes
away, or after --lifetime seconds, so it never outlives the test that started it.
With --tls it speaks HTTPS with a fresh self-signed certificate for "localhost"
(made with the openssl command), which a verifying client must refuse.

    GET /PATH                 the file, with ETag and Last-Modified; 304 when
                              If-None-Match or If-Modified-Since matches
    GET /_stats               {"/path": count, ...} of every other request
    GET /_echo  (any method)  JSON of the request: method, path, headers, body
    GET /_hang/PATH           accepts, never answers, until the client gives up
    GET /_500/PATH            500 Internal Server Error
    GET /_garbage/PATH        200 with random bytes
    GET /_truncated/PATH      Content-Length larger than what is sent, then close
    GET /_slow/PATH           the file, one byte per second
    GET /_gzip/PATH           the file with Content-Encoding: gzip
    GET /_redirect/N/PATH     N redirects (302), then the file
    GET /_goto?url=URL        302 to any URL (e.g. file:///etc/passwd)
    GET /_headers/N           200 with N extra response headers
    GET /_big/N               N MiB of valid-looking XML made on the fly, with
                              Content-Length; ?chunked: without it (chunked);
                              ?gzip: chunked and gzip-encoded (a small download
                              that decodes to N MiB)
"""

import argparse
import email.utils
import json
import mimetypes
import os
import select
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MIB = 1024 * 1024
MAX_BIG_MIB = 4096
HANG_MAX_S = 600  # a hanging handler gives up by itself after this long


class FeedServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # tests open dozens of connections at once

    def __init__(self, address, root):
        super().__init__(address, Handler)
        self.root = os.path.realpath(root)
        self.stats = {}
        self.stats_lock = threading.Lock()

    def handle_error(self, request, client_address):
        # A client that hangs up mid-answer (or refuses our certificate) is what half of
        # these tests do.
        if not isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError)):
            super().handle_error(request, client_address)

    def count(self, path):
        with self.stats_lock:
            self.stats[path] = self.stats.get(path, 0) + 1


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "feedserver/1"

    def log_message(self, fmt, *args):
        pass  # quiet: the test's output is what matters

    # ---- dispatch

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        path, query = url.path, urllib.parse.parse_qs(url.query, keep_blank_values=True)
        if path == "/_stats":
            with self.server.stats_lock:
                body = json.dumps(self.server.stats).encode()
            return self.send_body(200, body, "application/json")
        self.server.count(path)
        body = self.request_body()  # read even when unused: the connection stays in step
        if path == "/_echo":
            return self.echo(body)
        if path == "/_goto":
            return self.redirect(query.get("url", ["/"])[0])
        prefix, _, rest = path[1:].partition("/")
        handler = {
            "_hang": self.hang, "_500": self.error_500, "_garbage": self.garbage,
            "_truncated": self.truncated, "_slow": self.slow, "_gzip": self.gzipped,
            "_redirect": self.redirect_n, "_big": self.big, "_headers": self.many_headers,
        }.get(prefix)
        if handler is None:
            return self.serve_file(path)
        return handler("/" + rest, query)

    do_HEAD = do_GET
    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    # ---- helpers

    def send_body(self, status, body, ctype="text/plain", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def request_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(min(n, 16 * MIB)) if n > 0 else b""

    def resolve(self, path):
        """The file under root for a URL path, or None (missing, or outside root)."""
        rel = urllib.parse.unquote(path).lstrip("/")
        full = os.path.realpath(os.path.join(self.server.root, rel))
        if os.path.commonpath([full, self.server.root]) != self.server.root:
            return None
        return full if os.path.isfile(full) else None

    def read_file(self, path):
        full = self.resolve(path)
        if full is None:
            self.send_body(404, b"not found\n")
            return None
        with open(full, "rb") as f:
            return f.read()

    def chunk(self, data):
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def end_chunks(self):
        self.wfile.write(b"0\r\n\r\n")

    # ---- plain files with validators

    def serve_file(self, path):
        full = self.resolve(path)
        if full is None:
            return self.send_body(404, b"not found\n")
        st = os.stat(full)
        etag = '"%x-%x"' % (st.st_mtime_ns, st.st_size)
        last_modified = email.utils.formatdate(st.st_mtime, usegmt=True)
        validators = [("ETag", etag), ("Last-Modified", last_modified)]
        if self.is_not_modified(etag, int(st.st_mtime)):
            self.send_response(304)
            for name, value in validators:
                self.send_header(name, value)
            self.end_headers()
            return
        ctype = mimetypes.guess_type(full)[0] or "application/octet-stream"
        with open(full, "rb") as f:
            self.send_body(200, f.read(), ctype, validators)

    def is_not_modified(self, etag, mtime):
        # RFC 9110 §13.1.3: If-Modified-Since only counts without If-None-Match.
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            tags = [t.strip() for t in inm.split(",")]
            return "*" in tags or etag in tags or ("W/" + etag) in tags
        ims = self.headers.get("If-Modified-Since")
        if ims is None:
            return False
        try:
            since = email.utils.parsedate_to_datetime(ims).timestamp()
        except (TypeError, ValueError):
            return False
        return mtime <= since

    # ---- the broken variants

    def echo(self, body):
        doc = {"method": self.command, "path": self.path,
               "headers": [[k, v] for k, v in self.headers.items()],
               "body": body.decode("utf-8", "replace")}
        self.send_body(200, json.dumps(doc).encode(), "application/json")

    def hang(self, *_):
        # Wait for the client to close (read returns b"") without answering.
        deadline = time.monotonic() + HANG_MAX_S
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.connection], [], [], 1.0)
            if ready and not self.connection.recv(4096):
                break
        self.close_connection = True

    def error_500(self, *_):
        self.send_body(500, b"internal error (on purpose)\n")

    def garbage(self, *_):
        self.send_body(200, os.urandom(8192), "application/xml")

    def truncated(self, path, _):
        data = self.read_file(path)
        if data is None:
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(data) + 1000))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.close_connection = True

    def slow(self, path, _):
        data = self.read_file(path)
        if data is None:
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.flush()
        for i in range(len(data)):
            self.wfile.write(data[i:i + 1])
            self.wfile.flush()
            time.sleep(1)

    def gzipped(self, path, _):
        data = self.read_file(path)
        if data is None:
            return
        z = zlib.compressobj(wbits=31)  # 31: gzip wrapper
        body = z.compress(data) + z.flush()
        self.send_body(200, body, "application/xml", [("Content-Encoding", "gzip")])

    def redirect(self, location):
        self.send_body(302, b"redirecting\n", "text/plain", [("Location", location)])

    def redirect_n(self, rest, _):
        n, _, path = rest[1:].partition("/")
        if not n.isdigit():
            return self.send_body(404, b"not found\n")
        if int(n) == 0:
            return self.serve_file("/" + path)
        return self.redirect("/_redirect/%d/%s" % (int(n) - 1, path))

    def many_headers(self, rest, _):
        n = rest[1:]
        if not n.isdigit() or int(n) > 10000:
            return self.send_body(404, b"not found\n")
        self.send_body(200, b"ok\n", "text/plain",
                       [("X-Filler-%d" % i, "v%d" % i) for i in range(int(n))])

    def big(self, rest, query):
        n = rest[1:]
        if not n.isdigit() or not 1 <= int(n) <= MAX_BIG_MIB:
            return self.send_body(404, b"not found\n")
        is_gzip, is_chunked = "gzip" in query, "chunked" in query or "gzip" in query
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        if is_gzip:
            self.send_header("Content-Encoding", "gzip")
        if is_chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(int(n) * MIB))
        self.end_headers()
        if self.command == "HEAD":
            return
        z = zlib.compressobj(wbits=31) if is_gzip else None
        for piece in big_xml(int(n) * MIB):
            if z is not None:
                piece = z.compress(piece)
            if is_chunked:
                self.chunk(piece)
            else:
                self.wfile.write(piece)
        if z is not None:
            self.chunk(z.flush())
        if is_chunked:
            self.end_chunks()


def big_xml(size):
    """Exactly size bytes of a well-formed feed, in pieces of about 64 KiB."""
    head = b'<?xml version="1.0" encoding="UTF-8"?>\n<feed>\n'
    foot = b"</feed>\n"
    record = b"<item><id>%012d</id><title>Course %012d</title></item>\n"
    rec_len = len(record % (0, 0))
    nrec = (size - len(head) - len(foot)) // rec_len
    pad = size - len(head) - len(foot) - nrec * rec_len
    yield head
    per_piece = 65536 // rec_len
    for start in range(0, nrec, per_piece):
        yield b"".join(record % (i, i) for i in range(start, min(nrec, start + per_piece)))
    yield b" " * pad + foot


def wrap_tls(server):
    """Serves HTTPS with a throw-away self-signed certificate."""
    with tempfile.TemporaryDirectory(prefix="feedserver-") as tmp:
        cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=localhost", "-keyout", key, "-out", cert],
                       check=True, capture_output=True, timeout=60)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
    # The handshake runs in the handler's thread, so a silent client cannot stall accept().
    server.socket = ctx.wrap_socket(server.socket, server_side=True,
                                    do_handshake_on_connect=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", required=True, help="directory to serve")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--lifetime", type=float, default=300, help="seconds before exiting")
    ap.add_argument("--tls", action="store_true", help="HTTPS with a self-signed certificate")
    args = ap.parse_args()

    server = FeedServer(("127.0.0.1", args.port), args.root)
    if args.tls:
        wrap_tls(server)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("port %d" % server.server_address[1], flush=True)

    parent = os.getppid()
    deadline = time.monotonic() + args.lifetime
    while not stop.is_set() and time.monotonic() < deadline and os.getppid() == parent:
        stop.wait(0.5)
    server.server_close()  # handler threads are daemons: they end with the process
    return 0


if __name__ == "__main__":
    sys.exit(main())
