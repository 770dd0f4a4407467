#!/usr/bin/python3
"""
edci_standin.py — a stand-in for a self-hosted Europass EDCI issuer (test code only;
standard library only), speaking the public API that samples/elm/README.md describes:

    POST /api/v2/public/credentials/seal_and_send   multipart/form-data: part _file is
         the upload wrapper {"credential": {…ELM 3…}, "deliveryDetails":
         {"deliveryAddress": ["…"]}}, part password the seal certificate's password.
         200 {"viewerURL": ["…/viewer/<credential id>"]}; 400 {"code","message",
         "description","timestamp","path","affectedAssets"} for a wrapper EDCI refuses
         (no deliveryDetails, more than 2 addresses, an already sealed credential, no
         credential), 401 for a wrong password or bearer token.
    POST /api/v2/public/credentials/seal            the same, answers the "sealed" file
                                                    (nothing delivered)

A credential is delivered once per Idempotency-Key (mcx sends the credential id):
a repeat answers as the first did and delivers nothing. What a test reads and sets:

    GET  /_stats     {"requests": N, "deliveries": {"<key>": n, …}, "repeats": N,
                      "last": {…the last wrapper…}}
    POST /_mode      {"mode": "ok"|"fail500"|"hang"|"garbage"|"slow"|"reject"|"unauthorized",
                      ["delay_ms": N]}: how the next requests are answered
                      (hang: never answers; slow: answers after delay_ms; reject: 400;
                      unauthorized: 401, as a proxy in front of EDCI with another token)

Listens on 127.0.0.1 (port 0 unless --port), prints "port N" once it listens, and
exits on SIGTERM, when its parent goes away, or after --lifetime seconds.
"""

import argparse
import json
import os
import signal
import sys
import threading
import time
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_PREFIXES = ("/api/v2/public/credentials/", "/europass2/edci-issuer/api/v2/public/credentials/")


class State:
    def __init__(self, password, token):
        self.lock = threading.Lock()
        self.password = password
        self.token = token
        self.mode = "ok"
        self.delay_ms = 0
        self.requests = 0
        self.repeats = 0
        self.deliveries = {}   # Idempotency-Key -> times delivered (1, or a bug)
        self.answers = {}      # Idempotency-Key -> (status, body) first given
        self.last = None


def multipart(headers, body):
    """The parts of a multipart/form-data body as {name: bytes}."""
    ctype = headers.get("Content-Type", "")
    if not ctype.startswith("multipart/form-data"):
        return None
    msg = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
    if not msg.is_multipart():
        return None
    parts = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            parts[name] = part.get_payload(decode=True) or b""
    return parts


def edci_error(status, code, message, path):
    return status, {"code": code, "message": message, "description": message,
                    "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "path": path, "affectedAssets": []}


def check_wrapper(parts, state, path):
    """(status, body) of an EDCI refusal, or None when the request is acceptable."""
    if parts is None or "_file" not in parts:
        return edci_error(400, "edci-400", "no file in part _file", path)
    if state.password is not None and parts.get("password", b"").decode() != state.password:
        return edci_error(401, "edci-401", "the seal certificate's password is wrong", path)
    try:
        wrapper = json.loads(parts["_file"])
    except ValueError:
        return edci_error(400, "edci-400", "the file is not JSON", path)
    cred = wrapper.get("credential") if isinstance(wrapper, dict) else None
    if not isinstance(cred, dict):
        return edci_error(400, "edci-400", "the upload has no credential", path)
    if "proof" in cred or "signatures" in cred:
        return edci_error(400, "edci-400", "the credential is already signed", path)
    types = cred.get("type") or []
    subject = cred.get("credentialSubject")
    if "VerifiableCredential" not in types or not isinstance(subject, dict) or \
            not cred.get("@context") or not isinstance(cred.get("issuer"), dict):
        return edci_error(400, "edci-400", "the credential is not an ELM 3 credential", path)
    details = wrapper.get("deliveryDetails")
    if path.endswith("seal_and_send"):
        addresses = details.get("deliveryAddress") if isinstance(details, dict) else None
        if not isinstance(addresses, list) or not addresses:
            return edci_error(400, "edci-400", "deliveryDetails.deliveryAddress is missing", path)
        if len(addresses) > 2:
            return edci_error(400, "edci-400", "more delivery addresses than allowed (2)", path)
    state.last = wrapper
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_json(self, status, doc):
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        st = self.server.state
        if self.path == "/_stats":
            with st.lock:
                self.send_json(200, {"requests": st.requests, "deliveries": st.deliveries,
                                     "repeats": st.repeats, "last": st.last, "mode": st.mode})
            return
        self.send_json(404, {"code": "edci-404", "message": "no such resource"})

    def do_POST(self):
        st = self.server.state
        body = self.read_body()
        if self.path == "/_mode":
            doc = json.loads(body or b"{}")
            with st.lock:
                st.mode = doc.get("mode", "ok")
                st.delay_ms = int(doc.get("delay_ms", 0))
            self.send_json(200, {"mode": st.mode})
            return
        op = None
        for prefix in API_PREFIXES:
            if self.path.startswith(prefix):
                op = self.path[len(prefix):]
        if op not in ("seal", "seal_and_send"):
            self.send_json(404, {"code": "edci-404", "message": "no such endpoint"})
            return
        with st.lock:
            st.requests += 1
            mode, delay = st.mode, st.delay_ms
        if mode == "unauthorized" or (
                st.token is not None and self.headers.get("Authorization") != "Bearer " + st.token):
            self.send_json(401, {"code": "edci-401", "message": "authentication required"})
            return
        if mode == "hang":
            time.sleep(3600)
            return
        if mode == "slow":
            time.sleep(delay / 1000.0)
        if mode == "fail500":
            self.send_json(500, {"code": "edci-500", "message": "internal error"})
            return
        if mode == "garbage":
            junk = b"<html>\x00\xff not what you asked for"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(junk)))
            self.end_headers()
            self.wfile.write(junk)
            return
        if mode == "reject":
            self.send_json(*edci_error(400, "edci-400", "the credential does not conform",
                                       self.path))
            return
        key = self.headers.get("Idempotency-Key") or ""
        with st.lock:
            if key and key in st.answers:   # a resend: answer as before, deliver nothing
                st.repeats += 1
                status, doc = st.answers[key]
                self.send_json(status, doc)
                return
            refusal = check_wrapper(multipart(self.headers, body), st, self.path)
            if refusal is not None:
                self.send_json(*refusal)
                return
            if op == "seal_and_send":
                st.deliveries[key] = st.deliveries.get(key, 0) + 1
                answer = (200, {"viewerURL": ["https://europass.example/viewer/" + key]})
            else:
                answer = (200, {"sealed": True, "credential": st.last.get("credential")})
            if key:
                st.answers[key] = answer
        self.send_json(*answer)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--password", help="the seal certificate's password to expect")
    ap.add_argument("--token", help="the bearer token to expect")
    ap.add_argument("--lifetime", type=float, default=600, help="seconds before exiting")
    args = ap.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.state = State(args.password, args.token)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("port %d" % server.server_address[1], flush=True)
    parent = os.getppid()
    deadline = time.monotonic() + args.lifetime
    while not stop.is_set() and time.monotonic() < deadline and os.getppid() == parent:
        stop.wait(0.5)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
