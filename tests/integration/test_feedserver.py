"""
The test feed server itself (tests/feedserver.py): validators and 304s, the broken
variants other tests rely on, that it can never outlive a test (SIGTERM,
--lifetime), and its EWP partner stand-ins: every document they serve validates
against the upstream XSDs (xmllint, offline through samples/ewp/catalog.xml), and
batching limits, modified_since and catalogue changes behave as the Courses and
Simple Course Replication specs say. Standard library only; every wait is bounded.
"""

import gzip
import http.client
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
import xml.etree.ElementTree as ET

import pytest

SAMPLE = "/elm/loq/examples/loq.xml"


def source_dir():
    return os.environ.get("MCX_SOURCE_DIR",
                          os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def samples_dir():
    shared = os.environ.get("MCX_SHARED_DIR", os.path.join(source_dir(), "..", "shared"))
    return os.path.join(shared, "samples")


def start(*extra):
    proc = subprocess.Popen(
        ["/usr/bin/python3", os.path.join(source_dir(), "tests", "feedserver.py"),
         "--root", samples_dir(), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ready, _, _ = select.select([proc.stdout], [], [], 30)
    line = proc.stdout.readline().decode() if ready else ""
    if not line.startswith("port "):
        proc.kill()
        proc.wait(5)
        raise RuntimeError(f"feedserver did not start: {line!r}")
    return proc, int(line.split()[1])


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


@pytest.fixture(scope="module")
def server():
    proc, port = start("--lifetime", "120")
    yield port
    assert stop(proc) == 0
    err = proc.stderr.read().decode()
    assert "Traceback" not in err, err


def request(port, path, method="GET", headers=None, timeout=10, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def sample_bytes():
    with open(samples_dir() + SAMPLE, "rb") as f:
        return f.read()


def test_file_validators_and_304(server):
    status, headers, body = request(server, SAMPLE)
    assert status == 200 and body == sample_bytes()
    etag, last_modified = headers["ETag"], headers["Last-Modified"]
    assert request(server, SAMPLE, headers={"If-None-Match": etag})[0] == 304
    assert request(server, SAMPLE, headers={"If-None-Match": '"x", ' + etag})[0] == 304
    assert request(server, SAMPLE, headers={"If-None-Match": '"stale"'})[0] == 200
    assert request(server, SAMPLE, headers={"If-Modified-Since": last_modified})[0] == 304
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert request(server, SAMPLE, headers={"If-Modified-Since": old})[0] == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110 §13.1.3).
    both = {"If-None-Match": '"stale"', "If-Modified-Since": last_modified}
    assert request(server, SAMPLE, headers=both)[0] == 200


def test_stays_inside_root(server):
    for path in ["/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/no/such.xml", "/elm"]:
        assert request(server, path)[0] == 404, path


def test_broken_variants(server):
    assert request(server, "/_500" + SAMPLE)[0] == 500
    status, _, body = request(server, "/_garbage" + SAMPLE)
    assert status == 200 and len(body) == 8192
    status, headers, body = request(server, "/_gzip" + SAMPLE)
    assert headers["Content-Encoding"] == "gzip" and gzip.decompress(body) == sample_bytes()
    with pytest.raises(http.client.IncompleteRead):
        request(server, "/_truncated" + SAMPLE)


def test_redirects(server):
    status, headers, _ = request(server, "/_redirect/2" + SAMPLE)
    assert status == 302 and headers["Location"] == "/_redirect/1" + SAMPLE
    status, _, body = request(server, "/_redirect/0" + SAMPLE)
    assert status == 200 and body == sample_bytes()
    status, headers, _ = request(server, "/_goto?url=file:///etc/passwd")
    assert status == 302 and headers["Location"] == "file:///etc/passwd"


def test_big_is_exact_and_well_formed(server):
    status, headers, body = request(server, "/_big/2")
    assert status == 200 and int(headers["Content-Length"]) == len(body) == 2 * 1024 * 1024
    assert len(ET.fromstring(body).findall("item")) > 10000
    status, headers, body = request(server, "/_big/2?chunked")
    assert headers["Transfer-Encoding"] == "chunked" and len(body) == 2 * 1024 * 1024
    status, headers, body = request(server, "/_big/2?gzip")
    assert headers["Content-Encoding"] == "gzip" and len(body) < 1024 * 1024
    assert len(gzip.decompress(body)) == 2 * 1024 * 1024
    assert request(server, "/_big/0")[0] == 404


def test_many_headers(server):
    status, headers, body = request(server, "/_headers/90")
    assert status == 200 and headers["X-Filler-89"] == "v89" and body == b"ok\n"


def test_hang_and_slow_answer_nothing_quickly(server):
    with socket.create_connection(("127.0.0.1", server), timeout=5) as s:
        s.sendall(b"GET /_hang/x HTTP/1.1\r\nHost: x\r\n\r\n")
        ready, _, _ = select.select([s], [], [], 1.5)
        assert not ready
    with socket.create_connection(("127.0.0.1", server), timeout=5) as s:
        s.sendall(b"GET /_slow" + SAMPLE.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(2.5)
        got = s.recv(65536)
        head, _, body = got.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and 1 <= len(body) <= 4


def test_echo_and_stats(server):
    status, _, body = request(server, "/_echo", method="PUT", headers={"X-Test": "1"})
    doc = json.loads(body)
    assert status == 200 and doc["method"] == "PUT" and ["X-Test", "1"] in doc["headers"]
    before = json.loads(request(server, "/_stats")[2]).get("/_500/counted", 0)
    for _ in range(3):
        request(server, "/_500/counted")
    after = json.loads(request(server, "/_stats")[2])["/_500/counted"]
    assert after - before == 3


def test_never_outlives_a_test():
    proc, _ = start("--lifetime", "1")
    try:
        assert proc.wait(6) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    proc, port = start()
    assert request(port, SAMPLE)[0] == 200
    t0 = time.monotonic()
    assert stop(proc) == 0 and time.monotonic() - t0 < 3


def test_tls_self_signed():
    import ssl
    proc, port = start("--tls", "--lifetime", "60")
    try:
        ctx = ssl.create_default_context()
        with pytest.raises(ssl.SSLCertVerificationError):
            conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=ctx)
            conn.request("GET", SAMPLE)
        ctx = ssl._create_unverified_context()
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=ctx)
        conn.request("GET", SAMPLE)
        assert conn.getresponse().read() == sample_bytes()
        conn.close()
    finally:
        assert stop(proc) == 0


# ---- EWP partner stand-ins

COURSES_SAMPLE = "ewp/courses/courses-response-example.xml"  # under --root
CR = "CR/f6d14b1f-f330-4956-8819-e24feb12d519"
DEP = "DEP/a1a43018-558c-45ed-a187-3c966e7bac77"
NS = {
    "c": "https://github.com/erasmus-without-paper/ewp-specs-api-courses/tree/stable-v1",
    "r": "https://github.com/erasmus-without-paper/ewp-specs-api-course-replication/tree/"
         "stable-v1",
    "mf": "https://github.com/erasmus-without-paper/ewp-specs-api-discovery/tree/stable-v6",
    "reg": "https://github.com/erasmus-without-paper/ewp-specs-api-registry/tree/stable-v1",
    "ce": "https://github.com/erasmus-without-paper/ewp-specs-api-courses/blob/stable-v1/"
          "manifest-entry.xsd",
    "se": "https://github.com/erasmus-without-paper/ewp-specs-api-course-replication/blob/"
          "stable-v1/manifest-entry.xsd",
    "de": "https://github.com/erasmus-without-paper/ewp-specs-api-discovery/blob/stable-v6/"
          "manifest-entry.xsd",
    "ewp": "https://github.com/erasmus-without-paper/ewp-specs-architecture/blob/stable-v1/"
           "common-types.xsd",
}
XSD = {
    "manifest": "discovery/manifest.xsd",
    "courses": "courses/courses-response.xsd",
    "scr": "courses/course-replication-response.xsd",
    "error": "common/common-types.xsd",
    "courses-entry": "courses/courses-manifest-entry.xsd",
    "scr-entry": "courses/course-replication-manifest-entry.xsd",
    "discovery-entry": "discovery/discovery-manifest-entry.xsd",
}


def xmllint_valid(kind, data):
    """data validates against the upstream XSD, offline (samples/ewp README §0)."""
    if shutil.which("xmllint") is None:
        pytest.skip("xmllint (libxml2-utils) is not installed")
    ewp = os.path.join(samples_dir(), "ewp")
    r = subprocess.run(["xmllint", "--nonet", "--noout", "--schema",
                        os.path.join(ewp, XSD[kind]), "-"],
                       input=data, capture_output=True, timeout=60,
                       env=dict(os.environ, XML_CATALOG_FILES=os.path.join(ewp, "catalog.xml")))
    assert r.returncode == 0, "%s: %s\n%s" % (kind, r.stderr.decode(), data.decode())


def control(port, name, **cmd):
    status, _, body = request(port, f"/ewp/{name}/control", "POST",
                              {"Content-Type": "application/json"}, body=json.dumps(cmd))
    return status, json.loads(body)


def load(port, name, hei_id="uw.edu.pl", **extra):
    status, state = control(port, name, op="load", hei_id=hei_id, file=COURSES_SAMPLE, **extra)
    assert status == 200, state
    return state


def state_of(port, name):
    status, _, body = request(port, f"/ewp/{name}/control")
    assert status == 200
    return json.loads(body)


def ewp_call(port, url_or_path, params, method="GET"):
    """GET with a query, or POST a form, to a stand-in endpoint: (status, root, body)."""
    path = urllib.parse.urlsplit(url_or_path).path
    form = urllib.parse.urlencode(params, doseq=True)
    if method == "GET":
        status, headers, body = request(port, path + "?" + form)
    else:
        status, headers, body = request(
            port, path, "POST", {"Content-Type": "application/x-www-form-urlencoded"},
            body=form)
    assert headers["Content-Type"].startswith("application/xml")
    return status, ET.fromstring(body), body


def replicated(port, name, **params):
    status, root, body = ewp_call(port, f"/ewp/{name}/scr", {"hei_id": "uw.edu.pl", **params})
    assert status == 200, body
    xmllint_valid("scr", body)
    return [e.text for e in root.findall("r:los-id", NS)]


def courses(port, name, ids, method="GET", **params):
    status, root, body = ewp_call(port, f"/ewp/{name}/courses",
                                  {"hei_id": "uw.edu.pl", "los_id": ids, **params}, method)
    assert status == 200, body
    xmllint_valid("courses", body)
    return root.findall("c:learningOpportunitySpecification", NS)


def assert_ewp_error(port, path, params, method="GET", status=400, needle=""):
    got, root, body = ewp_call(port, path, params, method)
    assert got == status, body
    assert root.tag == "{%s}error-response" % NS["ewp"]
    assert needle in root.findtext("ewp:developer-message", "", NS)
    xmllint_valid("error", body)


def manifest_apis(body):
    root = ET.fromstring(body)
    host = root.find("mf:host", NS)
    apis = host.find("reg:apis-implemented", NS)
    return host, apis.find("ce:courses", NS), apis.find("se:simple-course-replication", NS)


def test_ewp_manifest_and_endpoints_validate(server):
    load(server, "valid")
    status, headers, body = request(server, "/ewp/valid/manifest.xml")
    assert status == 200 and headers["Content-Type"].startswith("application/xml")
    xmllint_valid("manifest", body)
    host, c, scr = manifest_apis(body)
    assert [h.get("id") for h in host.findall("mf:institutions-covered/reg:hei", NS)] == \
        ["uw.edu.pl"]
    base = f"http://127.0.0.1:{server}/ewp/valid"
    assert c.get("version") == "0.7.1" and c.findtext("ce:url", None, NS) == base + "/courses"
    assert c.findtext("ce:max-los-ids", None, NS) == "3"
    assert scr.get("version") == "1.0.0" and scr.findtext("se:url", None, NS) == base + "/scr"
    assert scr.findtext("se:supports-modified-since", None, NS) == "true"
    # The entry XSDs want https:// URLs: over plain HTTP that is the only difference
    # (test_ewp_tls_manifest validates the entries as served).
    for kind, entry in [("courses-entry", c), ("scr-entry", scr),
                        ("discovery-entry", host.find("reg:apis-implemented/de:discovery", NS))]:
        xmllint_valid(kind, ET.tostring(entry).replace(b"http://", b"https://"))

    # the URLs the manifest gives, by GET and by POST
    for method in ["GET", "POST"]:
        status, root, body = ewp_call(server, scr.findtext("se:url", None, NS),
                                      {"hei_id": "uw.edu.pl"}, method)
        assert status == 200
        xmllint_valid("scr", body)
        assert [e.text for e in root.findall("r:los-id", NS)] == [CR, DEP]
        status, root, body = ewp_call(server, c.findtext("ce:url", None, NS),
                                      {"hei_id": "uw.edu.pl", "los_id": [DEP, "CR/nope", CR]},
                                      method)
        assert status == 200
        xmllint_valid("courses", body)
        got = root.findall("c:learningOpportunitySpecification", NS)
        assert [los.findtext("c:los-id", None, NS) for los in got] == [DEP, CR]  # as asked
    # unknown ids are omitted; none known gives the empty response
    assert courses(server, "valid", ["CR/unknown", "MOD/x"]) == []
    assert courses(server, "valid", [], los_code=["nope"]) == []
    # errors are error-responses
    assert_ewp_error(server, "/ewp/valid/scr", {"hei_id": "other.example"}, needle="hei_id")
    assert_ewp_error(server, "/ewp/valid/scr", {}, method="POST", needle="hei_id")
    assert_ewp_error(server, "/ewp/valid/courses", {"hei_id": "x.example", "los_id": CR},
                     needle="unknown hei_id")


def test_ewp_batching_limit(server):
    load(server, "batch", copies=4)
    ids = [e["los_id"] for e in state_of(server, "batch")["los"]]
    assert len(ids) == 8 and ids[:2] == [CR + "-1", CR + "-2"]
    assert len(replicated(server, "batch")) == 8
    got = courses(server, "batch", ids[:3], method="POST")
    assert [los.findtext("c:los-id", None, NS) for los in got] == ids[:3]
    # more than max-los-ids: 400, whatever the method
    for method in ["GET", "POST"]:
        assert_ewp_error(server, "/ewp/batch/courses", {"hei_id": "uw.edu.pl", "los_id": ids[:4]},
                         method, needle="more than 3 los_id")
    assert_ewp_error(server, "/ewp/batch/courses",
                     {"hei_id": "uw.edu.pl", "los_id": CR, "los_code": "x"}, needle="not both")
    assert_ewp_error(server, "/ewp/batch/courses", {"hei_id": "uw.edu.pl"}, needle="neither")
    # a repeated id counts against the limit but is answered once
    got = courses(server, "batch", [ids[0], ids[0]])
    assert len(got) == 1
    # the limit is the stand-in's setting, and the manifest says so
    assert control(server, "batch", op="set", max_los_ids=5)[0] == 200
    assert len(courses(server, "batch", ids[:5])) == 5
    body = request(server, "/ewp/batch/manifest.xml")[2]
    assert manifest_apis(body)[1].findtext("ce:max-los-ids", None, NS) == "5"
    state = state_of(server, "batch")
    assert state["largest_batch"] == 5 and state["counts"]["manifest.xml"] == 1
    assert state["counts"]["courses"] == 7 and state["counts"]["scr"] == 1
    assert state["los_ids_requested"] == 3 + 2 + 5  # only answered requests count
    assert [r["status"] for r in state["requests"] if r["endpoint"] == "courses"] == \
        [200, 400, 400, 400, 400, 200, 200]
    first = state["requests"][1]  # [0] is the replication call
    assert first["method"] == "POST" and first["params"]["los_id"] == ids[:3]


def test_ewp_lois_filters(server):
    load(server, "lois")
    lois = "c:specifies/c:learningOpportunityInstance/c:loi-id"

    def loi_ids(**params):
        return [e.text for e in courses(server, "lois", [CR], **params)[0].findall(lois, NS)]

    assert loi_ids() == ["CRI/13466290", "CRI/14061212"]
    assert loi_ids(lois_after="2016-01-01") == ["CRI/13466290"]
    assert loi_ids(lois_before="2016-01-01") == ["CRI/14061212"]
    assert loi_ids(lois_before="2015-01-01") == []
    assert loi_ids() == ["CRI/13466290", "CRI/14061212"]  # the catalogue itself is unchanged
    assert_ewp_error(server, "/ewp/lois/courses",
                     {"hei_id": "uw.edu.pl", "los_id": CR, "lois_after": "2016"})


def test_ewp_modified_since_and_changes(server):
    state = load(server, "changes", modified="2020-01-01T00:00:00Z")
    assert [e["modified"] for e in state["los"]] == ["2020-01-01T00:00:00.000000+00:00"] * 2
    assert replicated(server, "changes") == [CR, DEP]
    assert replicated(server, "changes", modified_since="2019-12-31T23:59:59Z") == [CR, DEP]
    assert replicated(server, "changes", modified_since="2020-01-01T00:00:00Z") == []  # after
    assert replicated(server, "changes", modified_since="2020-01-01T00:30:00+01:00") == [CR, DEP]
    assert replicated(server, "changes", modified_since="2020-01-01T00:00:00.5") == []

    # a change bumps the LOS's time past everything before it
    before = state_of(server, "changes")["now"]
    state = control(server, "changes", op="modify", los_id=CR, title="Calculus, revised",
                    lang="en")[1]
    assert state["los"][0]["modified"] > before
    assert replicated(server, "changes", modified_since=before) == [CR]
    los = courses(server, "changes", [CR])[0]
    assert [t.text for t in los.findall("c:title", NS)] == ["Grunnkurs i matematikk",
                                                            "Calculus, revised"]
    # replaced and added LOS
    new_id = "CR/4e3a6a39-0000-4000-8000-000000000001"
    xml = ET.tostring(los, encoding="unicode").replace(CR, new_id)
    mark = state_of(server, "changes")["now"]
    assert control(server, "changes", op="put", xml=xml)[0] == 200
    assert replicated(server, "changes") == [CR, DEP, new_id]
    assert replicated(server, "changes", modified_since=mark) == [new_id]
    assert control(server, "changes", op="modify", los_id=DEP)[0] == 200  # a touch
    assert replicated(server, "changes", modified_since=mark) == [DEP, new_id]

    # deletion: gone from the list, and the Courses API omits it
    assert control(server, "changes", op="delete", los_id=DEP)[0] == 200
    assert replicated(server, "changes") == [CR, new_id]
    got = courses(server, "changes", [DEP, CR])
    assert [los.findtext("c:los-id", None, NS) for los in got] == [CR]
    assert control(server, "changes", op="delete", los_id=DEP)[0] == 400

    # a bad modified_since is a bad request ('+' unescaped reads as a space)
    for bad in ["yesterday", "2020-01-01", "2020-01-01T00:00:00 01:00"]:
        assert_ewp_error(server, "/ewp/changes/scr", {"hei_id": "uw.edu.pl", "modified_since": bad},
                         needle="modified_since")
    # a server without modified_since support says so and answers the whole list
    assert control(server, "changes", op="set", supports_modified_since=False)[0] == 200
    body = request(server, "/ewp/changes/manifest.xml")[2]
    assert manifest_apis(body)[2].findtext("se:supports-modified-since", None, NS) == "false"
    assert replicated(server, "changes", modified_since="2099-01-01T00:00:00Z") == [CR, new_id]


def test_ewp_control_and_isolation(server):
    # nothing is served before a load
    assert request(server, "/ewp/fresh/manifest.xml")[0] == 404
    assert request(server, "/ewp/fresh/control")[0] == 404
    assert control(server, "fresh", op="delete", los_id=CR)[0] == 400
    # refused loads
    assert control(server, "fresh", op="load", file=COURSES_SAMPLE)[0] == 400  # no hei_id
    assert control(server, "fresh", op="load", hei_id="a.lt", file="no/such.xml")[0] == 400
    assert control(server, "fresh", op="load", hei_id="a.lt", file="../../etc/passwd")[0] == 400
    assert control(server, "fresh", op="load", hei_id="a.lt",
                   file="ewp/courses/course-replication-response-example.xml")[0] == 400
    assert control(server, "fresh", op="load", hei_id="a.lt", xml="<oops")[0] == 400
    # two stand-ins, two HEIs, independent catalogues
    load(server, "one", hei_id="one.example")
    load(server, "two", hei_id="two.example")
    assert control(server, "two", op="delete", los_id=CR)[0] == 200
    for name, hei, ids in [("one", "one.example", [CR, DEP]), ("two", "two.example", [DEP])]:
        status, root, _ = ewp_call(server, f"/ewp/{name}/scr", {"hei_id": hei})
        assert status == 200 and [e.text for e in root.findall("r:los-id", NS)] == ids
        host = manifest_apis(request(server, f"/ewp/{name}/manifest.xml")[2])[0]
        assert host.find("mf:institutions-covered/reg:hei", NS).get("id") == hei
    assert_ewp_error(server, "/ewp/one/scr", {"hei_id": "two.example"})
    # bad control requests
    assert control(server, "one", op="modify", los_id="CR/none")[0] == 400
    assert control(server, "one", op="modify", los_id=CR, title="x", lang="fr")[0] == 400
    assert control(server, "one", op="put", xml="<learningOpportunitySpecification/>")[0] == 400
    assert control(server, "one", op="set", max_los_ids=0)[0] == 400
    assert control(server, "one", op="explode")[0] == 400
    # only GET and POST (and HEAD)
    status, headers, body = request(server, "/ewp/one/courses?hei_id=one.example", "PUT")
    assert status == 405 and headers["Allow"] == "GET, HEAD, POST"
    xmllint_valid("error", body)
    assert request(server, "/ewp/one/manifest.xml", "POST")[0] == 405
    assert request(server, "/ewp/one/nothing")[0] == 404
    assert request(server, "/ewp/bad%20name/manifest.xml")[0] == 404
    # the per-path counts of /_stats cover the stand-ins too
    stats = json.loads(request(server, "/_stats")[2])
    assert stats["/ewp/one/scr"] >= 2 and stats["/ewp/one/courses"] == 1
    # a reload starts over
    assert load(server, "one", hei_id="one.example")["counts"] == \
        {"manifest.xml": 0, "courses": 0, "scr": 0}


def test_ewp_tls_manifest():
    import ssl
    proc, port = start("--tls", "--lifetime", "60")
    try:
        ctx = ssl._create_unverified_context()

        def call(method, path, body=None, headers=None):
            conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=ctx)
            try:
                conn.request(method, path, body=body, headers=headers or {})
                resp = conn.getresponse()
                return resp.status, resp.read()
            finally:
                conn.close()

        cmd = {"op": "load", "hei_id": "uw.edu.pl", "file": COURSES_SAMPLE}
        assert call("POST", "/ewp/tls/control", json.dumps(cmd))[0] == 200
        status, body = call("GET", "/ewp/tls/manifest.xml")
        assert status == 200
        xmllint_valid("manifest", body)
        host, c, scr = manifest_apis(body)
        assert c.findtext("ce:url", None, NS) == f"https://127.0.0.1:{port}/ewp/tls/courses"
        # as served: https URLs, so every entry validates against its own XSD
        xmllint_valid("courses-entry", ET.tostring(c))
        xmllint_valid("scr-entry", ET.tostring(scr))
        xmllint_valid("discovery-entry",
                      ET.tostring(host.find("reg:apis-implemented/de:discovery", NS)))
        status, body = call("GET", "/ewp/tls/scr?hei_id=uw.edu.pl")
        assert status == 200
        xmllint_valid("scr", body)
    finally:
        assert stop(proc) == 0
