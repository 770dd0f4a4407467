"""The EWP discovery manifest (GET /ewp/manifest.xml, /ewp/institutions/{id}/manifest.xml):
valid against the Discovery Manifest v6 XSD offline (samples/ewp/catalog.xml, --nonet),
the home institutions and only them, the node key's public half when there is one,
absolute URLs from --public-url or else the Host header (garbage → 400), conditional
GET, and URLs that answer."""

import base64
import hashlib
import os
import shutil
import subprocess
import uuid
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import pytest

import mcxtest
from mcxtest import assert_json_error, http, raw_exchange

SOURCE = mcxtest.source_dir()
SHARED = os.environ.get("MCX_SHARED_DIR") or os.path.join(SOURCE, "..", "shared")
EWP = os.path.join(SHARED, "samples", "ewp")
CATALOG = os.path.join(EWP, "catalog.xml")
MANIFEST_XSD = os.path.join(EWP, "discovery", "manifest.xsd")
ENTRY_XSD = os.path.join(EWP, "discovery", "discovery-manifest-entry.xsd")

MF = "https://github.com/erasmus-without-paper/ewp-specs-api-discovery/tree/stable-v6"
EWPNS = "https://github.com/erasmus-without-paper/ewp-specs-architecture/blob/stable-v1/common-types.xsd"
R = "https://github.com/erasmus-without-paper/ewp-specs-api-registry/tree/stable-v1"
DISC = "https://github.com/erasmus-without-paper/ewp-specs-api-discovery/blob/stable-v6/manifest-entry.xsd"
MCX = "https://mcx.example/ns/feeds/v1"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

LT_NAME = "Vytauto Didžiojo universitetas & <VDU> \"'"


def mcx(db, *args):
    r = subprocess.run([mcxtest.mcx_binary(), *args], capture_output=True, text=True,
                       env=mcxtest.child_env({"MCX_DATABASE_URL": db.url}), timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


@pytest.fixture(scope="module")
def institutions(db):
    mcx(db, "institution", "add", "vdu.lt", "--name", "Vytautas Magnus University", "--country",
        "LT", "--home")
    mcx(db, "institution", "add", "ktu.lt", "--name", "Kaunas University of Technology",
        "--country", "LT")
    lt = LT_NAME.replace("'", "''").replace('"', '\\"')
    db.query(f"UPDATE institutions SET name = name || '{{\"lt\":\"{lt}\"}}' WHERE id = 'vdu.lt'")


def validate(body, tmp_path):
    """xmllint, offline: manifest.xsd as served (lax in apis-implemented), then with the
    Discovery entry's own schema too, so that entry is checked strictly as well."""
    if shutil.which("xmllint") is None:
        pytest.skip("xmllint (libxml2-utils) is not installed")
    assert os.path.exists(CATALOG), f"no EWP samples under {SHARED}"
    doc = tmp_path / f"manifest-{uuid.uuid4().hex[:8]}.xml"
    doc.write_bytes(body)
    both = tmp_path / "manifest-and-entry.xsd"
    both.write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">'
        f'<xs:import namespace="{MF}" schemaLocation="{MANIFEST_XSD}"/>'
        f'<xs:import namespace="{DISC}" schemaLocation="{ENTRY_XSD}"/></xs:schema>')
    env = {**os.environ, "XML_CATALOG_FILES": CATALOG}
    for xsd in (MANIFEST_XSD, str(both)):
        r = subprocess.run(["xmllint", "--nonet", "--noout", "--schema", xsd, str(doc)],
                           capture_output=True, text=True, timeout=120, env=env)
        assert r.returncode == 0, f"{xsd}:\n{r.stderr[-3000:]}\n{body.decode()}"


def parse(resp):
    assert resp.status == 200, resp
    assert resp.header("Content-Type").split(";")[0] == "application/xml"
    root = ET.fromstring(resp.body)
    assert root.tag == f"{{{MF}}}manifest"
    return root


def host(root):
    return root.find(f"{{{MF}}}host")


def covered(root):
    return [h.get("id") for h in root.iter(f"{{{R}}}hei")]


def urls(root):
    """Every URL in apis-implemented, by entry tag (local name)."""
    out = {}
    apis = host(root).find(f"{{{R}}}apis-implemented")
    for entry in apis:
        for u in entry.iter():
            if u.tag.endswith("}url"):
                out.setdefault(entry.tag.split("}")[1], []).append(u.text)
    return out


def institution_feeds(root):
    return [e.get("hei-id") for e in root.iter(f"{{{MCX}}}institution-loq-feed")]


def key_b64(root):
    keys = [k.text for k in host(root).iter(f"{{{MF}}}rsa-public-key")]
    assert len(keys) <= 1, keys
    return keys[0] if keys else None


def test_manifest_from_host_header(mcxd, db, institutions, tmp_path):
    srv = mcxd("--harvest", "off")
    r = http(srv.port, "GET", "/ewp/manifest.xml", headers={"Host": f"127.0.0.1:{srv.port}"})
    root = parse(r)
    validate(r.body, tmp_path)
    assert r.header("ETag") and r.header("Vary") == "Host"

    # exactly the home institution, with its names escaped and read back whole
    assert covered(root) == ["vdu.lt"] and institution_feeds(root) == ["vdu.lt"]
    assert b"ktu.lt" not in r.body
    names = {n.get(XML_LANG): n.text for n in root.iter(f"{{{R}}}name")}
    assert names == {"en": "Vytautas Magnus University", "lt": LT_NAME}
    h = host(root)
    assert h.find(f"{{{EWPNS}}}admin-email").text == "postmaster@[127.0.0.1]"
    assert "mcx" in h.find(f"{{{EWPNS}}}admin-notes").text
    assert key_b64(root) is None  # no --node-key

    # absolute URLs from the Host header; plain HTTP gets no Discovery entry (ewp:HTTPS)
    base = f"http://127.0.0.1:{srv.port}"
    found = urls(root)
    assert "discovery" not in found
    assert found == {"loq-feed": [f"{base}/feeds/loq.xml"],
                     "institution-loq-feed": [f"{base}/feeds/institutions/vdu.lt/loq.xml"],
                     "offer-replication": [f"{base}/api/v1/replication/offers"]}
    rep = root.find(f".//{{{MCX}}}offer-replication")
    assert rep.get("version") and rep.find(f"{{{MCX}}}supports-modified-since").text == "true"
    assert all(e.get("version") for e in host(root).find(f"{{{R}}}apis-implemented"))
    # the URLs answer: the feeds with LOQ, the replication list with JSON
    for u in found["loq-feed"] + found["institution-loq-feed"]:
        assert srv.get(urlsplit(u).path).status == 200, u
    assert "offers" in srv.get(urlsplit(found["offer-replication"][0]).path).json()

    # another name for this server: its URLs, lower-cased; its postmaster
    other = http(srv.port, "GET", "/ewp/manifest.xml", headers={"Host": "MCX.Example.org:8443"})
    root = parse(other)
    validate(other.body, tmp_path)
    assert all(u.startswith("http://mcx.example.org:8443/")
               for us in urls(root).values() for u in us)
    assert host(root).find(f"{{{EWPNS}}}admin-email").text == "postmaster@mcx.example.org"
    assert other.header("ETag") != r.header("ETag")
    local = parse(http(srv.port, "GET", "/ewp/manifest.xml", headers={"Host": "localhost"}))
    assert host(local).find(f"{{{EWPNS}}}admin-email").text == "postmaster@mcx.invalid"
    v6 = parse(http(srv.port, "GET", "/ewp/manifest.xml", headers={"Host": "[::1]:8080"}))
    assert urls(v6)["loq-feed"] == ["http://[::1]:8080/feeds/loq.xml"]


@pytest.fixture(scope="module")
def plain(module_mcxd):
    return module_mcxd("--harvest", "off")


@pytest.mark.parametrize("value", ["bad/host", "a b", "user@host", "[::1", "[nope]:80", "host:0",
                                   "host:99999", "host:", "host:8a", "-x.org", "x..org",
                                   "<script>", "", "h\u00f6st.lt"])
def test_bad_host_is_400(plain, value):
    srv = plain
    data = (f"GET /ewp/manifest.xml HTTP/1.1\r\nHost: {value}\r\nConnection: close\r\n\r\n"
            ).encode("utf-8")
    assert_json_error(raw_exchange(srv.port, data), 400)


def test_missing_or_repeated_host_is_400(plain):
    srv = plain
    assert_json_error(raw_exchange(srv.port, b"GET /ewp/manifest.xml HTTP/1.0\r\n\r\n"), 400)
    two = b"GET /ewp/manifest.xml HTTP/1.1\r\nHost: a.lt\r\nHost: b.lt\r\nConnection: close\r\n\r\n"
    assert_json_error(raw_exchange(srv.port, two), 400)


def test_public_url_node_key_and_conditional_get(mcxd, db, institutions, tmp_path):
    key_id = mcx(db, "key", "generate", "--out", str(tmp_path / "key"))
    srv = mcxd("--harvest", "off", "--node-key", tmp_path / "key" / "private.pem",
               "--public-url", "https://mcx.vdu.lt/", "--admin-email", "mcx-admin@vdu.lt")
    r = srv.get("/ewp/manifest.xml")
    root = parse(r)
    validate(r.body, tmp_path)
    assert r.header("Vary") is None
    found = urls(root)
    assert found["discovery"] == ["https://mcx.vdu.lt/ewp/manifest.xml"]
    assert root.find(f".//{{{DISC}}}discovery").get("version") == "6.0.0"
    assert all(u.startswith("https://mcx.vdu.lt/") for us in found.values() for u in us)
    assert found["offer-replication"] == ["https://mcx.vdu.lt/api/v1/replication/offers"]
    assert host(root).find(f"{{{EWPNS}}}admin-email").text == "mcx-admin@vdu.lt"
    assert covered(root) == ["vdu.lt"]

    # the node key's public half: base64 DER SubjectPublicKeyInfo, keyId = its SHA-256
    pem = (tmp_path / "key" / "public.pem").read_text()
    der = base64.b64decode("".join(l for l in pem.splitlines() if not l.startswith("-----")))
    got = base64.b64decode(key_b64(root), validate=True)
    assert got == der and hashlib.sha256(got).hexdigest() == key_id
    assert root.find(f".//{{{MF}}}server-credentials-in-use") is None

    # the Host header is not used (nor judged) when --public-url is set
    odd = http(srv.port, "GET", "/ewp/manifest.xml", headers={"Host": "bad/host"})
    assert odd.status == 200 and odd.body == r.body

    # conditional GET
    etag = r.header("ETag")
    nm = srv.get("/ewp/manifest.xml", headers={"If-None-Match": etag})
    assert nm.status == 304 and nm.header("ETag") == etag and nm.body == b""
    assert srv.get("/ewp/manifest.xml", headers={"If-None-Match": '"0000"'}).status == 200
    head = srv.request("HEAD", "/ewp/manifest.xml")
    assert head.status == 200 and head.header("ETag") == etag


def test_several_home_institutions(mcxd, tmp_path):
    db = mcxtest.Database(mcxtest.shared_conninfo("postgres"), "test_manifest_multi")
    db.create(migrate=True)
    try:
        for inst, home in [("vdu.lt", True), ("uab.cat", True), ("ktu.lt", False)]:
            mcx(db, "institution", "add", inst, "--name", f"Name of {inst}", "--country", "LT",
                *(["--home"] if home else []))
        srv = mcxd("--harvest", "off", "--public-url", "https://mcx.example.org/net",
                   database_url=db.url)
        r = srv.get("/ewp/manifest.xml")
        root = parse(r)
        validate(r.body, tmp_path)
        # EWP v6: at most one HEI per manifest, so the node's covers none of the two...
        assert covered(root) == []
        assert institution_feeds(root) == ["uab.cat", "vdu.lt"]
        assert b"ktu.lt" not in r.body
        assert urls(root)["discovery"] == ["https://mcx.example.org/net/ewp/manifest.xml"]
        # ...and each has its own manifest
        for inst in ["uab.cat", "vdu.lt"]:
            path = f"/ewp/institutions/{inst}/manifest.xml"
            one = srv.get(path)
            mine = parse(one)
            validate(one.body, tmp_path)
            assert covered(mine) == [inst] and institution_feeds(mine) == [inst]
            assert urls(mine)["discovery"] == [f"https://mcx.example.org/net{path}"]
            assert [n.text for n in mine.iter(f"{{{R}}}name")] == [f"Name of {inst}"]
        assert_json_error(srv.get("/ewp/institutions/ktu.lt/manifest.xml"), 404)
        assert_json_error(srv.get("/ewp/institutions/nope.example/manifest.xml"), 404)

        # the ETag follows the content
        db.query("UPDATE institutions SET name = '{\"en\":\"Renamed\"}' WHERE id = 'vdu.lt'")
        again = srv.get("/ewp/manifest.xml", headers={"If-None-Match": r.header("ETag")})
        assert again.status == 200 and again.header("ETag") != r.header("ETag")
    finally:
        db.drop()


@pytest.mark.parametrize("flag,value", [("--public-url", "ftp://mcx.vdu.lt"),
                                        ("--public-url", "https://mcx.vdu.lt/?x=1"),
                                        ("--public-url", "https://user@mcx.vdu.lt"),
                                        ("--admin-email", "nobody"),
                                        ("--admin-email", "a@localhost")])
def test_bad_options_exit_2(flag, value):
    r = mcxtest.run_mcxd([flag, value, "--database-url", "host=/nonexistent"])
    assert r.returncode == 2 and flag in r.stderr, r.stderr
