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

EWP partner stand-ins: any number, each under its own /ewp/NAME/ (NAME: letters,
digits, ".", "_", "-"), each an EWP host for one HEI serving its catalogue through
the Courses API 0.7.1 and the Simple Course Replication API 1.0.0 (samples/ewp
README §1). A stand-in exists once a test has loaded it (op "load" below).
Only /ewp/NAME/{manifest.xml,courses,scr,control} are stand-in endpoints: any other
/ewp/... path is a file under --root, like every other path.

    GET  /ewp/NAME/manifest.xml   Discovery v6 manifest: one host covering the HEI,
                                  implementing Courses (max-los-ids, default 3) and
                                  Simple Course Replication (supports-modified-since),
                                  URLs absolute to this server (http, or https with --tls)
    GET|POST /ewp/NAME/courses?hei_id=H&los_id=I&los_id=...   (or los_code=..., never
                                  both; lois_before, lois_after: YYYY-MM-DD) the LOS
                                  asked for that exist, in the order asked; more ids than
                                  max-los-ids, a missing or unknown hei_id: 400
                                  error-response
    GET|POST /ewp/NAME/scr?hei_id=H[&modified_since=xs:dateTime]   every los-id, or
                                  those modified after modified_since; unknown hei_id,
                                  a bad modified_since: 400 error-response
    (POST parameters are application/x-www-form-urlencoded, as the specs say; other
    methods get 405.)
    POST /ewp/NAME/control        JSON {"op": ...}; answers the state below, or 400
                                  {"error": ...}:
        {"op": "load", "hei_id": H, "file": PATH under --root | "xml": TEXT,
         ["max_los_ids": 3], ["supports_modified_since": true], ["modified": T],
         ["copies": N]}           (re)creates the stand-in from a courses-response,
                                  counters reset; every LOS modified at T (default now);
                                  with N > 1, N copies of each LOS whose los-id, los-code
                                  and loi-ids end in "-1" .. "-N" (a catalogue to batch)
        {"op": "set", ["hei_id"], ["max_los_ids"], ["supports_modified_since"]}
        {"op": "put", "xml": "<learningOpportunitySpecification xmlns=...>", ["modified"]}
                                  adds or replaces a LOS (by its los-id); not validated,
                                  so a test can serve an invalid LOS
        {"op": "modify", "los_id": I, ["title": TEXT, "lang": L], ["modified": T]}
                                  bumps its modification time, and sets the text of its
                                  title in language L (default: the first title)
        {"op": "delete", "los_id": I}
    GET  /ewp/NAME/control        the state: {"hei_id", "max_los_ids",
                                  "supports_modified_since", "base_url", "now",
                                  "los": [{"los_id", "modified"}], "counts": {"manifest.xml":
                                  n, "courses": n, "scr": n}, "los_ids_requested",
                                  "largest_batch", "requests": [{"endpoint", "method",
                                  "status", "params"}] (the last 200)}
    Modification times are xs:dateTime in UTC with microseconds, strictly increasing
    within a stand-in; a "modified" given by the test is taken as it is.
"""

import argparse
import copy
import datetime
import email.utils
import json
import mimetypes
import os
import re
import select
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape, quoteattr

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
        self.scheme = "http"
        self.ewp = {}  # name -> EwpStandIn
        self.ewp_lock = threading.Lock()

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
            "ewp": lambda rest, query: self.ewp(rest, url.query, body),
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

    # ---- EWP partner stand-ins (see the module's docstring)

    def ewp(self, rest, raw_query, body):
        name, _, endpoint = rest[1:].partition("/")
        if endpoint not in ("control", "manifest.xml", "courses", "scr"):
            return self.serve_file("/ewp" + rest)  # a file under --root/ewp (the samples)
        if not EWP_NAME.fullmatch(name):
            return self.send_body(404, b"not found\n")
        if endpoint == "control":
            return self.ewp_control(name, body)
        handler = {"manifest.xml": self.ewp_manifest, "courses": self.ewp_courses,
                   "scr": self.ewp_scr}.get(endpoint)
        if handler is None:
            return self.send_body(404, b"not found\n")
        allowed = ("GET", "HEAD") if endpoint == "manifest.xml" else ("GET", "HEAD", "POST")
        with self.server.ewp_lock:
            stand_in = self.server.ewp.get(name)
            if stand_in is None:
                return self.send_body(404, b"no EWP stand-in %s: load one first\n" % name.encode())
            if self.command not in allowed:
                status, xml = 405, ewp_error("%s is not allowed here" % self.command)
                params = {}
            else:
                params = self.ewp_params(raw_query, body)
                status, xml = handler(stand_in, params)
            stand_in.record(endpoint, self.command, status, params)
        headers = [("Allow", ", ".join(allowed))] if status == 405 else []
        self.send_body(status, xml.encode(), "application/xml; charset=utf-8", headers)

    def ewp_params(self, raw_query, body):
        """Query and (for a form POST) body parameters, each a list of values."""
        params = urllib.parse.parse_qs(raw_query, keep_blank_values=True)
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if self.command == "POST" and ctype == "application/x-www-form-urlencoded":
            form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
            for key, values in form.items():
                params.setdefault(key, []).extend(values)
        return params

    def ewp_base(self, name):
        return "%s://127.0.0.1:%d/ewp/%s" % (self.server.scheme, self.server.server_address[1],
                                             name)

    def ewp_manifest(self, stand_in, _params):
        return 200, stand_in.manifest(self.ewp_base(stand_in.name))

    def ewp_courses(self, stand_in, params):
        return stand_in.courses(params)

    def ewp_scr(self, stand_in, params):
        return stand_in.replication(params)

    def ewp_control(self, name, body):
        if self.command == "GET":
            with self.server.ewp_lock:
                stand_in = self.server.ewp.get(name)
                state = stand_in.state(self.ewp_base(name)) if stand_in else None
            if state is None:
                return self.send_body(404, b'{"error": "not loaded"}', "application/json")
            return self.send_body(200, json.dumps(state).encode(), "application/json")
        if self.command != "POST":
            return self.send_body(405, b'{"error": "GET or POST"}', "application/json",
                                  [("Allow", "GET, POST")])
        try:
            cmd = json.loads(body or b"{}")
            if not isinstance(cmd, dict):
                raise EwpControlError("the body must be a JSON object")
            with self.server.ewp_lock:
                stand_in = self.ewp_apply(name, cmd)
                state = stand_in.state(self.ewp_base(name))
        except (ValueError, EwpControlError) as e:
            return self.send_body(400, json.dumps({"error": str(e)}).encode(), "application/json")
        self.send_body(200, json.dumps(state).encode(), "application/json")

    def ewp_apply(self, name, cmd):
        op = cmd.get("op")
        if op == "load":
            if "file" in cmd:
                full = self.resolve(str(cmd["file"]))
                if full is None:
                    raise EwpControlError("no file %s under the root" % cmd["file"])
                with open(full, "rb") as f:
                    data = f.read()
            elif "xml" in cmd:
                data = str(cmd["xml"]).encode()
            else:
                raise EwpControlError("load needs file or xml")
            stand_in = EwpStandIn(name, cmd.get("hei_id"))
            stand_in.configure(cmd)
            stand_in.load(data, cmd.get("modified"), cmd.get("copies", 1))
            self.server.ewp[name] = stand_in
            return stand_in
        stand_in = self.server.ewp.get(name)
        if stand_in is None:
            raise EwpControlError("no EWP stand-in %s: load one first" % name)
        if op == "set":
            stand_in.configure(cmd)
        elif op == "put":
            stand_in.put(str(cmd.get("xml", "")).encode(), cmd.get("modified"))
        elif op == "modify":
            stand_in.modify(cmd.get("los_id"), cmd.get("title"), cmd.get("lang"),
                            cmd.get("modified"))
        elif op == "delete":
            stand_in.delete(cmd.get("los_id"))
        else:
            raise EwpControlError("unknown op %r" % op)
        return stand_in


# ---- EWP: namespaces and documents (samples/ewp)

EWP_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
NS_COURSES = "https://github.com/erasmus-without-paper/ewp-specs-api-courses/tree/stable-v1"
NS_SCR = ("https://github.com/erasmus-without-paper/ewp-specs-api-course-replication/tree/"
          "stable-v1")
NS_TERM = "https://github.com/erasmus-without-paper/ewp-specs-types-academic-term/tree/stable-v1"
NS_COMMON = ("https://github.com/erasmus-without-paper/ewp-specs-architecture/blob/stable-v1/"
             "common-types.xsd")
NS_DISCOVERY = "https://github.com/erasmus-without-paper/ewp-specs-api-discovery/tree/stable-v6"
NS_REGISTRY = "https://github.com/erasmus-without-paper/ewp-specs-api-registry/tree/stable-v1"
NS_SEC = "https://github.com/erasmus-without-paper/ewp-specs-sec-intro/tree/stable-v2"
NS_DISCOVERY_ENTRY = ("https://github.com/erasmus-without-paper/ewp-specs-api-discovery/blob/"
                      "stable-v6/manifest-entry.xsd")
NS_COURSES_ENTRY = ("https://github.com/erasmus-without-paper/ewp-specs-api-courses/blob/"
                    "stable-v1/manifest-entry.xsd")
NS_SCR_ENTRY = ("https://github.com/erasmus-without-paper/ewp-specs-api-course-replication/"
                "blob/stable-v1/manifest-entry.xsd")
NS_CLIAUTH_NONE = ("https://github.com/erasmus-without-paper/ewp-specs-sec-cliauth-none/tree/"
                   "stable-v1")
NS_CLIAUTH_HTTPSIG = ("https://github.com/erasmus-without-paper/ewp-specs-sec-cliauth-httpsig/"
                      "tree/stable-v1")
LOS = "{%s}learningOpportunitySpecification" % NS_COURSES
# Responses are written with the Courses namespace as the default one, and trm: as the
# upstream example has it (ElementTree's serializer takes prefixes from this process-wide
# map; its default_namespace option refuses attributes without namespace).
ET.register_namespace("", NS_COURSES)
ET.register_namespace("trm", NS_TERM)

# xs:dateTime (XML Schema 1.1 part 2, §3.3.7): a zone-less one is taken as UTC here.
XS_DATETIME = re.compile(r"(-?\d{4,})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?"
                         r"(Z|[+-]\d\d:\d\d)?")
XS_DATE = re.compile(r"\d{4}-\d\d-\d\d")
MAX_REQUEST_LOG = 200


class EwpControlError(Exception):
    pass


def parse_xs_datetime(text):
    m = XS_DATETIME.fullmatch(text or "")
    if m is None:
        raise ValueError("not an xs:dateTime: %r" % text)
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    frac = int(((m.group(7) or ".")[1:] + "000000")[:6])
    zone = m.group(8) or "Z"
    offset = datetime.timedelta(0)
    if zone != "Z":
        offset = datetime.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
        offset = -offset if zone[0] == "-" else offset
    extra = datetime.timedelta(0)
    if (hour, minute, second, frac) == (24, 0, 0, 0):  # 24:00:00 is the next day's start
        hour, extra = 0, datetime.timedelta(days=1)
    value = datetime.datetime(year, month, day, hour, minute, second, frac,
                              datetime.timezone(offset))
    return (value + extra).astimezone(datetime.timezone.utc)


def format_xs_datetime(value):
    return value.astimezone(datetime.timezone.utc).isoformat(timespec="microseconds")


def ewp_error(message):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<error-response xmlns=%s>'
            "<developer-message>%s</developer-message></error-response>\n"
            % (quoteattr(NS_COMMON), escape(message)))


def los_check(los):
    """A LOS to keep: every element in a namespace (an element without one would be
    written into the default, Courses, namespace) and a los-id."""
    if not all(e.tag.startswith("{") for e in los.iter()):
        raise EwpControlError("a LOS holds an element without namespace")
    if not los_id_of(los):
        raise EwpControlError("a LOS without los-id")
    return los


def los_id_of(los):
    node = los.find("{%s}los-id" % NS_COURSES)
    return (node.text or "").strip() if node is not None else ""


def los_copy(los, suffix):
    """A copy of los whose own ids (los-id, los-code, loi-id) end in suffix."""
    los = copy.deepcopy(los)
    for path in ("c:los-id", "c:los-code", "c:specifies/c:learningOpportunityInstance/c:loi-id"):
        for node in los.findall(path, {"c": NS_COURSES}):
            node.text = (node.text or "").strip() + suffix
    return los


def los_code_of(los):
    node = los.find("{%s}los-code" % NS_COURSES)
    return (node.text or "").strip() if node is not None else None


def lois_filter(los, before, after):
    """A copy of los without the LOIs that end on or after before / start on or before
    after (Courses API lois_before, lois_after)."""
    los = copy.deepcopy(los)
    specifies = los.find("{%s}specifies" % NS_COURSES)
    for loi in list(specifies) if specifies is not None else []:
        start = (loi.findtext("{%s}start" % NS_COURSES) or "").strip()[:10]
        end = (loi.findtext("{%s}end" % NS_COURSES) or "").strip()[:10]
        if (before and not end < before) or (after and not start > after):
            specifies.remove(loi)
    return los


class EwpStandIn:
    """One HEI's EWP host: its LOS (by los-id, in load order, each with the time it was
    last modified), its settings and what it was asked. Callers hold FeedServer.ewp_lock."""

    def __init__(self, name, hei_id):
        if not isinstance(hei_id, str) or not hei_id:
            raise EwpControlError("load needs a hei_id")
        self.name, self.hei_id = name, hei_id
        self.max_los_ids, self.supports_modified_since = 3, True
        self.los = {}  # los-id -> [Element, datetime]
        self.last_time = None
        self.counts = {"manifest.xml": 0, "courses": 0, "scr": 0}
        self.los_ids_requested = self.largest_batch = 0
        self.requests = []

    # -- control

    def configure(self, cmd):
        if "hei_id" in cmd:
            if not isinstance(cmd["hei_id"], str) or not cmd["hei_id"]:
                raise EwpControlError("hei_id must be a non-empty string")
            self.hei_id = cmd["hei_id"]
        if "max_los_ids" in cmd:
            n = cmd["max_los_ids"]
            if not isinstance(n, int) or isinstance(n, bool) or n < 1:
                raise EwpControlError("max_los_ids must be a positive integer")
            self.max_los_ids = n
        if "supports_modified_since" in cmd:
            self.supports_modified_since = bool(cmd["supports_modified_since"])

    def stamp(self, given):
        """The modification time of a change: the one given, else now, strictly after the
        previous one (a clock step back cannot hide a change)."""
        if given is not None:
            return parse_xs_datetime(str(given))
        now = datetime.datetime.now(datetime.timezone.utc)
        if self.last_time is not None and now <= self.last_time:
            now = self.last_time + datetime.timedelta(microseconds=1)
        self.last_time = now
        return now

    def load(self, data, modified, copies):
        try:
            root = ET.fromstring(data)
        except ET.ParseError as e:
            raise EwpControlError("not well-formed: %s" % e)
        if root.tag != "{%s}courses-response" % NS_COURSES:
            raise EwpControlError("not a courses-response: %s" % root.tag)
        if not isinstance(copies, int) or isinstance(copies, bool) or not 1 <= copies <= 999:
            raise EwpControlError("copies must be 1 to 999")
        when = self.stamp(modified)
        self.los = {}
        for original in root.findall(LOS):
            los_check(original)
            for k in range(1, copies + 1):
                los = original if copies == 1 else los_copy(original, "-%d" % k)
                los_id = los_id_of(los)
                if los_id in self.los:
                    raise EwpControlError("LOS %r twice" % los_id)
                self.los[los_id] = [los, when]

    def put(self, data, modified):
        try:
            los = ET.fromstring(data)
        except ET.ParseError as e:
            raise EwpControlError("not well-formed: %s" % e)
        if los.tag != LOS:
            raise EwpControlError("put needs a learningOpportunitySpecification in %s"
                                  % NS_COURSES)
        self.los[los_id_of(los_check(los))] = [los, self.stamp(modified)]

    def modify(self, los_id, title, lang, modified):
        entry = self.los.get(los_id)
        if entry is None:
            raise EwpControlError("no LOS %r" % los_id)
        if title is not None:
            titles = entry[0].findall("{%s}title" % NS_COURSES)
            if lang is not None:
                key = "{http://www.w3.org/XML/1998/namespace}lang"
                titles = [t for t in titles if t.get(key) == lang]
            if not titles:
                raise EwpControlError("LOS %r has no title in %r" % (los_id, lang))
            titles[0].text = str(title)
        entry[1] = self.stamp(modified)

    def delete(self, los_id):
        if self.los.pop(los_id, None) is None:
            raise EwpControlError("no LOS %r" % los_id)

    def record(self, endpoint, method, status, params):
        self.counts[endpoint] += 1
        if endpoint == "courses" and status == 200:
            n = len(params.get("los_id", [])) + len(params.get("los_code", []))
            self.los_ids_requested += n
            self.largest_batch = max(self.largest_batch, n)
        self.requests.append({"endpoint": endpoint, "method": method, "status": status,
                              "params": params})
        del self.requests[:-MAX_REQUEST_LOG]

    def state(self, base_url):
        return {"hei_id": self.hei_id, "max_los_ids": self.max_los_ids,
                "supports_modified_since": self.supports_modified_since, "base_url": base_url,
                "now": format_xs_datetime(datetime.datetime.now(datetime.timezone.utc)),
                "los": [{"los_id": k, "modified": format_xs_datetime(v[1])}
                        for k, v in self.los.items()],
                "counts": dict(self.counts), "los_ids_requested": self.los_ids_requested,
                "largest_batch": self.largest_batch, "requests": list(self.requests)}

    # -- the APIs: (status, XML text)

    def hei_check(self, params):
        ids = params.get("hei_id", [])
        if len(ids) != 1:
            return "exactly one hei_id is required"
        if ids[0] != self.hei_id:
            return "unknown hei_id %s" % ids[0]
        return None

    def manifest(self, base):
        since = "true" if self.supports_modified_since else "false"
        entry_security = ("<http-security><sec:client-auth-methods><anonymous xmlns=%s/>"
                          "<httpsig xmlns=%s/></sec:client-auth-methods></http-security>"
                          % (quoteattr(NS_CLIAUTH_NONE), quoteattr(NS_CLIAUTH_HTTPSIG)))
        return f"""<?xml version="1.0" encoding="UTF-8"?>
<manifest xmlns={quoteattr(NS_DISCOVERY)} xmlns:ewp={quoteattr(NS_COMMON)}
    xmlns:r={quoteattr(NS_REGISTRY)} xmlns:sec={quoteattr(NS_SEC)}>
  <host>
    <ewp:admin-email>admin@example.com</ewp:admin-email>
    <ewp:admin-provider>mcx tests (feedserver.py)</ewp:admin-provider>
    <ewp:admin-notes>A test stand-in, not a real EWP host.</ewp:admin-notes>
    <r:apis-implemented>
      <discovery xmlns={quoteattr(NS_DISCOVERY_ENTRY)} version="6.0.0">
        <url>{escape(base)}/manifest.xml</url>
      </discovery>
      <courses xmlns={quoteattr(NS_COURSES_ENTRY)} version="0.7.1">
        {entry_security}
        <url>{escape(base)}/courses</url>
        <max-los-ids>{self.max_los_ids}</max-los-ids>
        <max-los-codes>{self.max_los_ids}</max-los-codes>
      </courses>
      <simple-course-replication xmlns={quoteattr(NS_SCR_ENTRY)} version="1.0.0">
        {entry_security}
        <url>{escape(base)}/scr</url>
        <allows-anonymous-access>true</allows-anonymous-access>
        <supports-modified-since>{since}</supports-modified-since>
      </simple-course-replication>
    </r:apis-implemented>
    <institutions-covered>
      <r:hei id={quoteattr(self.hei_id)}>
        <r:name xml:lang="en">{escape(self.hei_id)} (test stand-in)</r:name>
      </r:hei>
    </institutions-covered>
  </host>
</manifest>
"""

    def courses(self, params):
        problem = self.hei_check(params)
        ids, codes = params.get("los_id", []), params.get("los_code", [])
        before = (params.get("lois_before") or [""])[0]
        after = (params.get("lois_after") or [""])[0]
        if problem is None and bool(ids) == bool(codes):
            problem = "give los_id or los_code values, not both and not neither"
        if problem is None and len(ids or codes) > self.max_los_ids:
            problem = "more than %d %s values" % (self.max_los_ids, "los_id" if ids else "los_code")
        if problem is None and any(v and not XS_DATE.fullmatch(v) for v in (before, after)):
            problem = "lois_before and lois_after are YYYY-MM-DD dates"
        if problem is not None:
            return 400, ewp_error(problem)
        if ids:
            found = [self.los[i][0] for i in dict.fromkeys(ids) if i in self.los]
        else:
            wanted = dict.fromkeys(codes)
            found = [los for los, _ in self.los.values() if los_code_of(los) in wanted]
        root = ET.Element("{%s}courses-response" % NS_COURSES)
        for los in found:
            root.append(lois_filter(los, before, after) if before or after else los)
        body = ET.tostring(root, encoding="unicode")
        return 200, '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"

    def replication(self, params):
        problem = self.hei_check(params)
        since = params.get("modified_since", [])
        if problem is None and len(since) > 1:
            problem = "modified_since given twice"
        cutoff = None
        if problem is None and since and self.supports_modified_since:
            try:
                cutoff = parse_xs_datetime(since[0])
            except ValueError:
                problem = "modified_since is not an xs:dateTime: %s" % since[0]
        if problem is not None:
            return 400, ewp_error(problem)
        ids = [k for k, v in self.los.items() if cutoff is None or v[1] > cutoff]
        return 200, ('<?xml version="1.0" encoding="UTF-8"?>\n'
                     "<course-replication-response xmlns=%s>\n%s</course-replication-response>\n"
                     % (quoteattr(NS_SCR),
                        "".join("  <los-id>%s</los-id>\n" % escape(i) for i in ids)))


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
    server.scheme = "https"


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
