"""Static files from --web-root: types, caching, directories, and nothing outside the root."""

import hashlib
import os
import socket
import time

import pytest

import promparse
from mcxtest import HttpConn, assert_json_error, raw_exchange

SECRET = "TOPSECRET-outside-the-web-root"

FILES = {
    "index.html": "<!doctype html><title>home</title><p>root index</p>\n",
    "app.js": "console.log('mcx app');\n",
    "style.css": "body { color: #123; }\n",
    "data.json": '{"answer": 42}\n',
    "blob.bin": "\x00\x01binary",
    "notes.txt": "plain text\n",
    "sub/index.html": "<!doctype html><title>sub</title><p>sub index</p>\n",
    "offer.html": "<!doctype html><title>offer</title>\n",
    "signup.html": "<!doctype html><title>signup</title>\n",
    "login.html": "<!doctype html><title>login</title>\n",
    "me.html": "<!doctype html><title>me</title>\n",
    "impact.html": "<!doctype html><title>impact</title>\n",
    "queue.html": "<!doctype html><title>queue</title>\n",
    "sub/page.html": "<p>sub page</p>\n",
    "empty/.keep": "",
    ".hidden": "hidden file\n",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    base = tmp_path_factory.mktemp("site")
    root = base / "www"
    root.mkdir()
    for rel, content in FILES.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content.encode("latin-1"))
    (base / "secret.txt").write_text(SECRET + "\n")
    (base / "secretdir").mkdir()
    (base / "secretdir" / "index.html").write_text(SECRET + " index\n")
    os.symlink("/etc/passwd", root / "passwd")
    os.symlink("/etc", root / "etc")
    os.symlink("../secret.txt", root / "outside.txt")
    os.symlink(str(base / "secretdir"), root / "outdir")
    os.symlink("app.js", root / "alias.js")  # a symlink that stays inside is fine
    big = os.urandom(1 << 20) + b"end"
    (root / "big.bin").write_bytes(big)
    return {"base": base, "root": root, "big_sha": hashlib.sha256(big).hexdigest()}


@pytest.fixture(scope="module")
def srv(module_mcxd, site):
    return module_mcxd(web_root=str(site["root"]))


@pytest.mark.parametrize("path,ctype", [
    ("/index.html", "text/html"),
    ("/app.js", ("text/javascript", "application/javascript")),
    ("/style.css", "text/css"),
    ("/data.json", "application/json"),
    ("/notes.txt", "text/plain"),
    ("/blob.bin", "application/octet-stream"),
])
def test_mime_types_and_content(srv, path, ctype):
    r = srv.get(path)
    assert r.status == 200, r
    got = r.header("Content-Type").split(";")[0].strip()
    assert got in (ctype if isinstance(ctype, tuple) else (ctype,)), got
    assert r.body == FILES[path[1:]].encode("latin-1")
    assert r.header("Content-Length") == str(len(r.body))
    assert r.header("Cache-Control"), "static reply without Cache-Control"
    assert r.header("ETag")
    assert r.header("X-Request-Id")


def test_etag_and_304(srv):
    r = srv.get("/app.js")
    etag = r.header("ETag")
    assert etag and etag.endswith('"') and ('"' in etag)
    for inm in (etag, f'"nope", {etag}', "*"):
        r304 = srv.get("/app.js", {"If-None-Match": inm})
        assert r304.status == 304, (inm, r304)
        assert r304.body == b""
        assert r304.header("ETag") == etag
        assert r304.header("Cache-Control")
    r200 = srv.get("/app.js", {"If-None-Match": '"something-else"'})
    assert r200.status == 200 and r200.body == FILES["app.js"].encode()
    # same ETag on repeat; different ETag for a different file
    assert srv.get("/app.js").header("ETag") == etag
    assert srv.get("/style.css").header("ETag") != etag


def test_304_on_keep_alive_connection(srv):
    with HttpConn(srv.port) as c:
        etag = c.request("GET", "/style.css").header("ETag")
        r = c.request("GET", "/style.css", {"If-None-Match": etag})
        assert r.status == 304
        # a 304 has no body: the next response must parse cleanly
        r = c.request("GET", "/data.json")
        assert r.status == 200 and r.json() == {"answer": 42}


def test_etag_changes_with_content(srv, site):
    p = site["root"] / "changing.txt"
    p.write_text("version one\n")
    os.utime(p, (1_700_000_000, 1_700_000_000))
    r1 = srv.get("/changing.txt")
    assert r1.status == 200 and r1.body == b"version one\n"
    p.write_text("version two!\n")
    os.utime(p, (1_700_000_100, 1_700_000_100))
    r2 = srv.get("/changing.txt", {"If-None-Match": r1.header("ETag")})
    assert r2.status == 200, "stale ETag answered 304 after the file changed"
    assert r2.body == b"version two!\n"
    assert r2.header("ETag") != r1.header("ETag")


@pytest.mark.parametrize("path,file", [
    ("/offers/anything-at-all", "offer.html"),
    ("/offers/3f1c%20x", "offer.html"),
    ("/signup", "signup.html"),
    ("/login", "login.html"),
    ("/me", "me.html"),
    ("/impact", "impact.html"),
    ("/queue", "queue.html"),
])
def test_page_addresses_serve_their_page(srv, path, file):
    """A shared /offers/{id} link works for any id: the page loads the offer itself."""
    r = srv.get(path)
    assert r.status == 200, r
    assert r.header("Content-Type").startswith("text/html")
    assert r.body == FILES[file].encode()
    assert srv.request("HEAD", path).status == 200
    r = srv.request("POST", path, body=b"")
    assert r.status == 405, r


def test_root_serves_index(srv):
    r = srv.get("/")
    assert r.status == 200
    assert r.body == FILES["index.html"].encode()
    assert r.header("Content-Type").startswith("text/html")


def test_directory_without_slash_redirects(srv):
    r = srv.get("/sub")
    assert r.status == 301, r
    assert r.header("Location") == "/sub/"
    r = srv.get("/sub/")
    assert r.status == 200
    assert r.body == FILES["sub/index.html"].encode()
    assert r.header("Content-Type").startswith("text/html")
    assert srv.get("/sub/page.html").body == FILES["sub/page.html"].encode()


def test_directory_without_index_is_404(srv):
    assert_json_error(srv.get("/empty/"), 404)


def test_missing_file_404_json(srv):
    assert_json_error(srv.get("/nope.html"), 404)
    assert_json_error(srv.get("/sub/nope/deeper.js"), 404)
    assert_json_error(srv.get("/app.js/x"), 404)


def test_file_with_trailing_slash_is_404(srv):
    """"/app.js/" names a directory; a file is not one (open() gives ENOTDIR, nginx 404s).
    Serving it anyway gives every file a second URL under which relative links break."""
    assert_json_error(srv.get("/app.js/"), 404)
    assert_json_error(srv.get("/sub/page.html/"), 404)


def test_symlink_inside_root_is_served(srv):
    r = srv.get("/alias.js")
    assert r.status == 200 and r.body == FILES["app.js"].encode()


def test_hidden_files_are_not_served(srv):
    assert_json_error(srv.get("/.hidden"), 404)


def test_large_file_intact(srv, site):
    r = srv.get("/big.bin", timeout=30)
    assert r.status == 200
    assert int(r.header("Content-Length")) == (1 << 20) + 3
    assert hashlib.sha256(r.body).hexdigest() == site["big_sha"]


TRAVERSALS = [
    "/../../etc/passwd",
    "/../../../../../../../../etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/%2E%2E/%2E%2E/etc/passwd",
    "/sub/../../etc/passwd",
    "/sub/../../../../../etc/passwd",
    "/.%2e/.%2e/etc/passwd",
    "/..%2f..%2f..%2fetc%2fpasswd",
    "/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/sub/..%2f..%2fsecret.txt",
    "/..%5c..%5cetc%5cpasswd",
    "//etc/passwd",
    "/./../secret.txt",
    "/%2e%2e/secret.txt",
    "/../secret.txt",
    "/../secretdir/",
    "/passwd",
    "/etc/passwd",
    "/etc/hostname",
    "/etc/",
    "/etc",
    "/outside.txt",
    "/outdir/",
    "/outdir/index.html",
    "/sub/%2e%2e/%2e%2e/secret.txt",
]


@pytest.mark.parametrize("target", TRAVERSALS)
def test_nothing_outside_the_root(srv, target):
    raw = f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    r = raw_exchange(srv.port, raw)
    assert r.status in (404, 400), (target, r)
    if r.status == 404:
        assert_json_error(r, 404)
    text = r.body.decode("latin-1")
    assert "root:" not in text
    assert SECRET not in text
    assert r.header("Location") is None


def test_symlinked_dir_redirect_does_not_leak(srv):
    # "/outdir" (no slash) names a directory outside the root: never a 301 into it
    r = srv.get("/outdir")
    assert r.status == 404, r
    assert SECRET not in r.text()


@pytest.mark.parametrize("target", ["/index.html%00", "/index.html%00.js", "/%00",
                                    "/sub%00/index.html"])
def test_nul_in_path_is_400(srv, target):
    r = raw_exchange(srv.port, f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert_json_error(r, 400)


def test_head_has_headers_and_no_body(srv):
    with HttpConn(srv.port) as c:
        r = c.request("HEAD", "/app.js")
        assert r.status == 200
        assert r.header("Content-Length") == str(len(FILES["app.js"]))
        assert r.header("Content-Type").startswith(("text/javascript", "application/javascript"))
        assert r.header("ETag")
        assert r.body == b""
        r = c.request("HEAD", "/big.bin")
        assert r.status == 200 and r.header("Content-Length") == str((1 << 20) + 3)
        # had HEAD sent a body, this response would not parse
        r = c.request("GET", "/data.json")
        assert r.status == 200 and r.json() == {"answer": 42}
        r = c.request("HEAD", "/nope")
        assert r.status == 404 and r.body == b""
        r = c.request("GET", "/style.css")
        assert r.status == 200 and r.body == FILES["style.css"].encode()


def test_write_timeout_drops_a_client_that_does_not_read(mcxd, site):
    big = site["root"] / "huge.bin"
    with open(big, "wb") as f:
        f.write(b"\x5a" * (24 << 20))
    srv = mcxd("--write-timeout-ms", "500", web_root=str(site["root"]))
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(10)
    s.connect(("127.0.0.1", srv.port))
    try:
        s.sendall(b"GET /huge.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(2.0)  # not reading: the server's writes stall
        got = 0
        deadline = time.monotonic() + 10
        try:
            while time.monotonic() < deadline:
                chunk = s.recv(1 << 20)
                if not chunk:
                    break
                got += len(chunk)
        except ConnectionResetError:
            pass
        assert got < (24 << 20), "the whole file arrived although the client stalled"
    finally:
        s.close()
    expo = promparse.parse(srv.metrics_text())
    assert expo.value("mcx_http_connections_open") == 1
    assert srv.get("/app.js").status == 200


def test_query_string_is_ignored_for_files(srv):
    r = srv.get("/app.js?v=123")
    assert r.status == 200 and r.body == FILES["app.js"].encode()


def test_post_to_a_file_is_not_served(srv):
    r = srv.request("POST", "/app.js", body=b"")
    assert r.status in (404, 405)
    assert_json_error(r, r.status)
    assert FILES["app.js"].encode() not in r.body
