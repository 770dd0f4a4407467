"""
mcxtest — helpers for the Python integration tests of mcxd.

Only the standard library. What is here:

* environment: MCXD, MCX, MCX_SOURCE_DIR, MCX_TEST_PG_DIR (see tests/CMakeLists.txt);
* databases: create + migrate + drop a uniquely named database in the shared cluster;
* private clusters: script/pg start/stop/url in a temporary directory;
* mcxd processes: start with extra flags, wait for the "listening" line and /healthz,
  stop with a signal, check the exit status and the log for sanitizer reports;
* a raw-socket HTTP/1.1 client that sends exact bytes and reads exact responses
  (status line, headers, Content-Length or chunked body, HEAD and 1xx/204/304 rules).

Every wait here is bounded.
"""

import glob
import json
import os
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import uuid

# ---------------------------------------------------------------------------
# environment


def env_path(name):
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(
            f"environment variable {name} is not set (the tests run under ctest, which sets "
            "MCXD, MCX, MCX_SOURCE_DIR and MCX_TEST_PG_DIR; see tests/CMakeLists.txt)")
    return value


def mcxd_binary():
    path = env_path("MCXD")
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"MCXD={path} is not an executable file (build it first)")
    return os.path.abspath(path)


def mcx_binary():
    path = env_path("MCX")
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"MCX={path} is not an executable file (build it first)")
    return os.path.abspath(path)


def source_dir():
    return os.path.abspath(env_path("MCX_SOURCE_DIR"))


def shared_pg_dir():
    return os.path.abspath(env_path("MCX_TEST_PG_DIR"))


def shared_conninfo(dbname="mcx"):
    return f"host={shared_pg_dir()}/run dbname={dbname} user=mcx"


def child_env(extra=None):
    """Environment for children: sanitizer options like ctest's unless already set."""
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:exitcode=66")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    # mcxd reads MCX_* variables; don't let the caller's environment change the flags.
    for k in list(env):
        if k.startswith("MCX_") and k not in ("MCX_SOURCE_DIR", "MCX_TEST_PG_DIR",
                                              "MCX_SHARED_DIR"):
            del env[k]
    if extra:
        env.update(extra)
    return env


# ---------------------------------------------------------------------------
# PostgreSQL


def psql_binary():
    found = shutil.which("psql")
    if found:
        return found
    return "/usr/lib/postgresql/15/bin/psql"


def psql(conninfo, sql, timeout=30, check=True):
    """Runs one SQL command; returns its unaligned, tuples-only output (stripped)."""
    r = subprocess.run(
        [psql_binary(), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c", sql],
        capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"psql failed ({r.returncode}) on {sql!r}: {r.stderr.strip()}")
    return r.stdout.strip()


def conninfo_with_db(conninfo, dbname):
    parts = [p for p in conninfo.split() if not p.startswith("dbname=")]
    return " ".join(parts + [f"dbname={dbname}"])


class Database:
    """A uniquely named database in a cluster, migrated with `$MCX migrate`."""

    def __init__(self, admin_conninfo, label="t"):
        label = re.sub(r"[^a-z0-9_]", "_", label.lower())[:30]
        self.name = f"mcxit_{label}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        self.admin = admin_conninfo
        self.url = conninfo_with_db(admin_conninfo, self.name)
        self.created = False

    def create(self, migrate=True):
        psql(self.admin, f'CREATE DATABASE "{self.name}"')
        self.created = True
        if migrate:
            self.migrate()
        return self

    def migrate(self):
        r = subprocess.run([mcx_binary(), "migrate"], capture_output=True, text=True, timeout=120,
                           env=child_env({"MCX_DATABASE_URL": self.url}), cwd=source_dir())
        if r.returncode != 0:
            raise RuntimeError(f"mcx migrate failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")

    def query(self, sql, timeout=30):
        return psql(self.url, sql, timeout=timeout)

    def drop(self):
        if self.created:
            psql(self.admin, f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)', check=False)
            self.created = False

    def mcxd_backends(self, where="true"):
        """Number of backends of mcxd (application_name 'mcxd') on this database."""
        out = psql(self.admin,
                   "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'mcxd' "
                   f"AND datname = '{self.name}' AND ({where})")
        return int(out)

    def running_sleeps(self):
        return self.mcxd_backends("state = 'active' AND query ILIKE '%pg_sleep%'")


def script_pg():
    return os.path.join(source_dir(), "script", "pg")


class PrivateCluster:
    """A private PostgreSQL cluster managed with script/pg in a fresh /tmp directory.

    The directory is directly under /tmp (mode 755) because as root PostgreSQL runs as
    `postgres`, which must be able to traverse it, and the socket path must stay short.
    """

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="mcxpg", dir="/tmp")
        os.chmod(self.dir, 0o755)

    def _run(self, *args, timeout=180):
        r = subprocess.run([script_pg(), *args, self.dir], capture_output=True, text=True,
                           timeout=timeout, env=child_env({"MCX_PG_FAST": "1"}))
        if r.returncode != 0:
            raise RuntimeError(f"script/pg {' '.join(args)} failed ({r.returncode}):\n"
                               f"{r.stdout}\n{r.stderr}")
        return r.stdout.strip()

    def start(self):
        self._run("start")

    def stop(self):
        self._run("stop")

    def url(self):
        return self._run("url")

    def is_running(self):
        r = subprocess.run([script_pg(), "status", self.dir], capture_output=True, timeout=60)
        return r.returncode == 0

    def cleanup(self):
        try:
            self.stop()
        except Exception:  # noqa: BLE001 - best effort at teardown
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------
# raw HTTP/1.1 client

TOKEN_RE = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


class HttpError(Exception):
    pass


class PeerClosed(HttpError):
    """The server closed the connection before a complete response."""


class Response:
    def __init__(self, version, status, reason, headers, body, head_bytes):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value) as received
        self.body = body
        self.head_bytes = head_bytes
        self.received_at = time.monotonic()

    def header(self, name):
        """The value of header `name` (case-insensitive); fails if it appears twice."""
        values = self.header_values(name)
        if len(values) > 1:
            raise AssertionError(f"header {name} appears {len(values)} times: {values}")
        return values[0] if values else None

    def header_values(self, name):
        n = name.lower()
        return [v for k, v in self.headers if k.lower() == n]

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise AssertionError(f"body of {self.status} is not JSON ({e}): {self.body[:300]!r}")

    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return f"<Response {self.status} {self.headers} {self.body[:200]!r}>"


class HttpConn:
    """One client connection; sends exact bytes, reads exact responses."""

    def __init__(self, port, host="127.0.0.1", timeout=10.0, tls=False, connect=True):
        self.host = host
        self.port = port
        self.timeout = timeout
        self.tls = tls
        self.buf = bytearray()
        self.sock = None
        if connect:
            self.connect()

    def connect(self):
        s = socket.create_connection((self.host, self.port), timeout=self.timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s = ctx.wrap_socket(s, server_hostname="localhost")
        self.sock = s
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    @staticmethod
    def build(method, path, headers=None, body=None, host="127.0.0.1", version="HTTP/1.1"):
        lines = [f"{method} {path} {version}"]
        hdrs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        names = {k.lower() for k, _ in hdrs}
        if host is not None and "host" not in names:
            lines.append(f"Host: {host}")
        if body is not None and "content-length" not in names and \
                "transfer-encoding" not in names:
            lines.append(f"Content-Length: {len(body)}")
        for k, v in hdrs:
            lines.append(f"{k}: {v}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if body is not None:
            data += body if isinstance(body, bytes) else body.encode("utf-8")
        return data

    def request(self, method, path, headers=None, body=None, **kw):
        """Sends one request and reads its (final) response."""
        self.send(self.build(method, path, headers, body))
        return self.read_response(head=(method == "HEAD"), **kw)

    # -- reading

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no complete response in time; got so far {bytes(self.buf[:500])!r}")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError(
                f"no complete response in time; got so far {bytes(self.buf[:500])!r}") from None
        except ssl.SSLError as e:
            raise PeerClosed(f"TLS error: {e}") from None
        except ConnectionResetError:
            raise PeerClosed(f"connection reset; got so far {bytes(self.buf[:500])!r}") from None
        if not chunk:
            raise PeerClosed(f"connection closed; got so far {bytes(self.buf[:500])!r}")
        self.buf += chunk

    def _read_until(self, marker, deadline, limit=4 << 20):
        while True:
            i = self.buf.find(marker)
            if i >= 0:
                out = bytes(self.buf[:i])
                del self.buf[:i + len(marker)]
                return out
            if len(self.buf) > limit:
                raise HttpError(f"no {marker!r} within {limit} bytes")
            self._fill(deadline)

    def _read_exact(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def _read_to_eof(self, deadline):
        try:
            while True:
                self._fill(deadline)
        except PeerClosed:
            pass
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def read_response(self, head=False, timeout=None, skip_interim=False):
        """Reads one response. head=True: the request was HEAD (no body follows)."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while True:
            resp = self._read_one(head, deadline)
            if skip_interim and 100 <= resp.status < 200:
                continue
            return resp

    def _read_one(self, head, deadline):
        head_bytes = self._read_until(b"\r\n\r\n", deadline)
        lines = head_bytes.split(b"\r\n")
        m = re.match(rb"^(HTTP/1\.[01]) ([1-5][0-9][0-9]) ([\t !-~]*)$", lines[0])
        if not m:
            raise HttpError(f"malformed status line {lines[0]!r}")
        version, status, reason = m.group(1).decode(), int(m.group(2)), m.group(3).decode()
        headers = []
        for line in lines[1:]:
            if b"\n" in line or b"\r" in line:
                raise HttpError(f"bare CR or LF in header line {line!r}")
            name, sep, value = line.partition(b":")
            if not sep or not TOKEN_RE.match(name):
                raise HttpError(f"malformed header line {line!r}")
            headers.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))
        resp = Response(version, status, reason, headers, b"", head_bytes)
        te = resp.header_values("Transfer-Encoding")
        cl = resp.header_values("Content-Length")
        if te and cl:
            raise HttpError("response has both Transfer-Encoding and Content-Length")
        if len(cl) > 1:
            raise HttpError(f"several Content-Length headers: {cl}")
        if head or 100 <= status < 200 or status in (204, 304):
            if status in (204, 304) or 100 <= status < 200:
                if cl and status != 304:
                    raise HttpError(f"{status} response with Content-Length")
            resp.received_at = time.monotonic()
            return resp
        if te:
            if te[-1].lower() != "chunked":
                raise HttpError(f"unexpected Transfer-Encoding {te}")
            resp.body = self._read_chunked(deadline)
        elif cl:
            if not re.fullmatch(r"[0-9]+", cl[0]):
                raise HttpError(f"bad Content-Length {cl[0]!r}")
            resp.body = self._read_exact(int(cl[0]), deadline)
        else:
            resp.body = self._read_to_eof(deadline)
        resp.received_at = time.monotonic()
        return resp

    def _read_chunked(self, deadline):
        body = bytearray()
        while True:
            line = self._read_until(b"\r\n", deadline, limit=4096)
            size_s = line.split(b";", 1)[0].strip()
            if not re.fullmatch(rb"[0-9A-Fa-f]+", size_s):
                raise HttpError(f"bad chunk size line {line!r}")
            size = int(size_s, 16)
            if size == 0:
                while self._read_until(b"\r\n", deadline, limit=65536) != b"":
                    pass  # trailers
                return bytes(body)
            body += self._read_exact(size, deadline)
            if self._read_exact(2, deadline) != b"\r\n":
                raise HttpError("chunk not followed by CRLF")

    def wait_closed(self, timeout=5.0):
        """True if the server closes the connection within timeout (extra bytes are kept)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._fill(deadline)
            except PeerClosed:
                return True
            except TimeoutError:
                return False

    def is_open_now(self, wait=0.0):
        """False if the peer has closed (EOF/reset) within `wait` seconds."""
        r, _, _ = select.select([self.sock], [], [], wait)
        if not r:
            return True
        try:
            self.sock.setblocking(False)
            data = self.sock.recv(65536)
        except BlockingIOError:
            return True
        except (ConnectionResetError, ssl.SSLError):
            return False
        finally:
            self.sock.setblocking(True)
        if not data:
            return False
        self.buf += data
        return True


def http(port, method, path, headers=None, body=None, tls=False, timeout=10.0, close=True):
    """One request on a fresh connection."""
    hdrs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    if close and "connection" not in {k.lower() for k, _ in hdrs}:
        hdrs.append(("Connection", "close"))
    with HttpConn(port, timeout=timeout, tls=tls) as c:
        return c.request(method, path, hdrs, body)


def get(port, path, headers=None, **kw):
    return http(port, "GET", path, headers, **kw)


def raw_exchange(port, data, timeout=10.0, head=False, tls=False):
    """Sends exact bytes on a fresh connection and reads one response."""
    with HttpConn(port, timeout=timeout, tls=tls) as c:
        c.send(data)
        return c.read_response(head=head)


def assert_json_error(resp, status, code=None):
    """DESIGN §3: {"error":{"code","message"},"request_id"} with the status and headers."""
    assert resp.status == status, f"expected {status}, got {resp!r}"
    ctype = resp.header("Content-Type") or ""
    assert ctype.split(";")[0].strip() == "application/json", f"Content-Type {ctype!r}"
    doc = resp.json()
    assert isinstance(doc, dict) and isinstance(doc.get("error"), dict), doc
    assert isinstance(doc["error"].get("code"), str) and doc["error"]["code"], doc
    assert isinstance(doc["error"].get("message"), str) and doc["error"]["message"], doc
    if code is not None:
        assert doc["error"]["code"] == code, doc
    rid = resp.header("X-Request-Id")
    assert rid, f"no X-Request-Id on {resp!r}"
    assert doc.get("request_id") == rid, f"body request_id {doc.get('request_id')!r} != {rid!r}"
    return doc


# ---------------------------------------------------------------------------
# mcxd processes

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer",
                     "ERROR: ThreadSanitizer", "ERROR: MemorySanitizer")

LISTEN_RE = re.compile(r"^listening on (https?)://([^/]+):(\d+)/$")


def sanitizer_report(text):
    for marker in SANITIZER_MARKERS:
        i = text.find(marker)
        if i >= 0:
            start = text.rfind("\n", 0, max(0, i - 200)) + 1
            return text[start:start + 6000]
    return None


def parse_json_lines(text):
    """(objects, other_lines) from a JSON-lines log."""
    objs, other = [], []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            other.append(line)
            continue
        if isinstance(obj, dict):
            objs.append(obj)
        else:
            other.append(line)
    return objs, other


class Mcxd:
    """One mcxd process (a master with --workers N > 1)."""

    def __init__(self, args, log_path, env=None, expect_exit=0, startup_timeout=30.0,
                 cwd=None):
        self.args = [mcxd_binary(), *args]
        self.log_path = log_path
        self.expect_exit = expect_exit
        self.port = None
        self.scheme = "http"
        self.returncode = None
        self.checked = False
        self._log = open(log_path, "ab")  # O_APPEND: every writer appends
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, env=child_env(env),
                                     cwd=cwd or os.path.dirname(log_path))
        self.pid = self.proc.pid
        self.startup_timeout = startup_timeout

    # -- log

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def log_tail(self, n=60):
        return "\n".join(self.log_text().splitlines()[-n:])

    def log_json(self):
        return parse_json_lines(self.log_text())[0]

    def listening_lines(self):
        out = []
        for obj in self.log_json():
            m = LISTEN_RE.match(str(obj.get("msg", "")))
            if m:
                out.append((obj, m))
        return out

    def wait_log(self, predicate, timeout=5.0, what="log line"):
        """First JSON log object satisfying predicate, waiting up to timeout."""
        deadline = time.monotonic() + timeout
        while True:
            for obj in self.log_json():
                if predicate(obj):
                    return obj
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} in the log within {timeout}s; tail:\n"
                                     f"{self.log_tail()}")
            time.sleep(0.02)

    def access_log(self, request_id, timeout=5.0):
        return self.wait_log(lambda o: o.get("msg") == "request" and
                             o.get("request_id") == request_id,
                             timeout, f"access log line for request {request_id}")

    # -- lifecycle

    def wait_listening(self, listeners=1):
        deadline = time.monotonic() + self.startup_timeout
        while True:
            found = self.listening_lines()
            if len(found) >= listeners:
                ports = {int(m.group(3)) for _, m in found}
                assert len(ports) == 1, f"workers listen on different ports: {ports}"
                obj, m = found[0]
                self.scheme = m.group(1)
                self.port = int(m.group(3))
                assert m.group(2) == "127.0.0.1", f"listening on {m.group(2)}"
                break
            rc = self.proc.poll()
            if rc is not None:
                raise AssertionError(f"mcxd exited with {rc} before listening:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"mcxd did not report listening within "
                                     f"{self.startup_timeout}s:\n{self.log_tail()}")
            time.sleep(0.02)
        return self

    def wait_healthy(self, timeout=None):
        deadline = time.monotonic() + (timeout or self.startup_timeout)
        last = None
        while time.monotonic() < deadline:
            try:
                r = get(self.port, "/healthz", tls=self.tls, timeout=5)
                if r.status == 200:
                    return self
                last = r
            except (OSError, HttpError, TimeoutError) as e:
                last = e
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"mcxd /healthz not 200 (last: {last!r}):\n{self.log_tail()}")

    @property
    def tls(self):
        return self.scheme == "https"

    def alive(self):
        return self.proc.poll() is None

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout=20.0):
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def stop(self, sig=signal.SIGTERM, timeout=20.0):
        """Signals and waits (bounded); SIGKILL and AssertionError if it does not exit."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.wait_exit(timeout)
        if rc is None:
            self.proc.kill()
            self.returncode = self.proc.wait(timeout=10)
            self._log.close()
            raise AssertionError(f"mcxd did not exit within {timeout}s of signal {sig}:\n"
                                 f"{self.log_tail()}")
        self._log.close()
        return rc

    def problems(self):
        """What is wrong with a stopped server: sanitizer reports, unexpected exit status."""
        out = []
        report = sanitizer_report(self.log_text())
        if report:
            out.append(f"sanitizer report in mcxd log {self.log_path}:\n{report}")
        if self.expect_exit is not None and self.returncode != self.expect_exit:
            out.append(f"mcxd exited with {self.returncode}, expected {self.expect_exit}")
        return out

    # -- requests

    def conn(self, timeout=10.0):
        return HttpConn(self.port, timeout=timeout, tls=self.tls)

    def request(self, method, path, headers=None, body=None, timeout=10.0):
        return http(self.port, method, path, headers, body, tls=self.tls, timeout=timeout)

    def get(self, path, headers=None, timeout=10.0):
        return self.request("GET", path, headers, timeout=timeout)

    def metrics_text(self):
        r = self.get("/metrics")
        assert r.status == 200, r
        return r.text()


class McxdFactory:
    """Starts mcxd processes; cleanup() stops them and reports every problem."""

    def __init__(self, workdir, database_url, web_root):
        self.workdir = workdir
        self.database_url = database_url
        self.web_root = web_root
        self.servers = []

    def start(self, *extra, database_url=None, web_root=None, listen="127.0.0.1:0",
              expect_exit=0, wait=True, env=None, listeners=None):
        extra = [str(a) for a in extra]
        args = ["--listen", listen]
        if "--database-url" not in extra:
            args += ["--database-url", database_url or self.database_url]
        if "--web-root" not in extra:
            args += ["--web-root", web_root or self.web_root]
        args += extra
        log_path = os.path.join(self.workdir, f"mcxd-{len(self.servers)}-{uuid.uuid4().hex[:6]}.log")
        srv = Mcxd(args, log_path, env=env, expect_exit=expect_exit)
        self.servers.append(srv)
        if wait:
            if listeners is None:
                listeners = int(extra[extra.index("--workers") + 1]) if "--workers" in extra else 1
            srv.wait_listening(listeners)
            srv.wait_healthy()
        return srv

    def cleanup(self):
        problems = []
        for srv in self.servers:
            try:
                if srv.returncode is None:
                    srv.stop(timeout=30)
            except AssertionError as e:
                problems.append(str(e))
            problems += [f"[{' '.join(srv.args)}] {p}" for p in srv.problems()]
            if srv.problems() and not any(p.startswith("sanitizer") for p in srv.problems()):
                problems.append(f"log tail:\n{srv.log_tail(30)}")
        self.servers = []
        return problems


def run_mcxd(args, timeout=20.0, env=None):
    """Runs mcxd to completion (for --help and bad configuration)."""
    return subprocess.run([mcxd_binary(), *args], capture_output=True, text=True,
                          timeout=timeout, env=child_env(env), stdin=subprocess.DEVNULL)


class SmtpStandin:
    """tests/smtp_standin.py on a free port: the institution's mail relay. Every mail it
    takes is a JSON file in spool; mails_to() reads those to one address, oldest first."""

    def __init__(self, spool, *extra):
        self.spool = str(spool)
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", os.path.join(source_dir(), "tests", "smtp_standin.py"),
             "--spool", self.spool, "--lifetime", "600", *extra],
            stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("port "), line
        self.url = f"smtp://127.0.0.1:{int(line.split()[1])}"

    def mails_to(self, address):
        out = []
        for path in sorted(glob.glob(os.path.join(self.spool, "*.json"))):
            with open(path, encoding="utf-8") as f:
                m = json.load(f)
            if address in m["to"]:
                out.append(m)
        return out

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def make_eseal(d, org_id="VATLT-100002513", password="eseal pass 42"):
    """An eSeal for the local Europass adapter, made with the openssl command in the
    directory d (a pathlib.Path): a CA, and a certificate naming the university and its
    VAT number as organizationIdentifier, as a qualified eSeal does. Leaves eseal.p12
    (with its CA), leaf.key + chain.pem, password (the p12's) and wrong (not it)."""
    def openssl(*args):
        r = subprocess.run(["openssl", *args], cwd=d, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, f"openssl {' '.join(args)}: {r.stderr}"
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
            "ca.pem", "-days", "30", "-subj", "/C=LT/O=Test Trust Services/CN=Test eSeal CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=keyCertSign")
    openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out",
            "leaf.csr", "-subj",
            f"/C=LT/O=Vytautas Magnus University/organizationIdentifier={org_id}/CN=VMU eSeal")
    (d / "ext").write_text("basicConstraints=critical,CA:FALSE\n"
                           "keyUsage=critical,digitalSignature,nonRepudiation\n")
    openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "20", "-out", "leaf.pem", "-extfile", "ext")
    openssl("pkcs12", "-export", "-inkey", "leaf.key", "-in", "leaf.pem", "-certfile", "ca.pem",
            "-passout", "pass:" + password, "-out", "eseal.p12")
    (d / "chain.pem").write_text((d / "leaf.pem").read_text() + (d / "ca.pem").read_text())
    (d / "password").write_text(password + "\n")
    (d / "wrong").write_text("not the password\n")
    return d


def wait_until(predicate, timeout, interval=0.02, what="condition"):
    """Polls predicate until it returns a truthy value; AssertionError after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s (last value {last!r})")
        time.sleep(interval)


def write_web_root(root):
    """A minimal web root (the default for servers that don't test static files)."""
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("<!doctype html><title>mcx test</title><p>mcx test root</p>\n")
    return root
