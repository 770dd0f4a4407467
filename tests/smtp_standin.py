#!/usr/bin/python3
"""
smtp_standin.py — a small SMTP server for tests (standard library only): what mcxd's
mail (e-mail address confirmation) talks to in place of the institution's mail relay.

Listens on 127.0.0.1 (port 0 unless --port), prints "port N" on stdout once it
listens, and exits on SIGTERM, when its parent goes away, or after --lifetime
seconds. Speaks the RFC 5321 subset a submission client uses: EHLO/HELO, AUTH PLAIN
and LOGIN (required when --user is given), MAIL FROM, RCPT TO, DATA (dot-unstuffed),
RSET, NOOP, QUIT; 8BITMIME and SIZE are announced. Every accepted message is written
to --spool as NNNNNN.json: {"from", "to": [...], "data": "<the message as received>"}
(written to a temporary name first, so a reader never sees half a file).

    --reject-domain D   RCPT TO an address at D: 550 (a refused recipient)
    --user U --password P   AUTH required (535 for a wrong password, 530 without)
"""

import argparse
import base64
import json
import os
import signal
import socketserver
import sys
import threading
import time


class Handler(socketserver.StreamRequestHandler):
    timeout = 30

    def reply(self, line):
        self.wfile.write((line + "\r\n").encode())
        self.wfile.flush()

    def readline(self):
        line = self.rfile.readline(65536)
        if not line:
            raise ConnectionError("closed")
        return line.decode("utf-8", "replace").rstrip("\r\n")

    def handle(self):
        opts = self.server.opts
        self.reply("220 smtp-standin ESMTP ready")
        sender, rcpts, authed = None, [], opts.user is None
        while True:
            try:
                line = self.readline()
            except (ConnectionError, OSError):
                return
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            if verb == "EHLO":
                self.reply("250-smtp-standin")
                self.reply("250-8BITMIME")
                if opts.user is not None:
                    self.reply("250-AUTH PLAIN LOGIN")
                self.reply("250 SIZE 10485760")
            elif verb == "HELO":
                self.reply("250 smtp-standin")
            elif verb == "AUTH":
                authed = self.auth(arg)
            elif verb == "MAIL":
                if not authed:
                    self.reply("530 5.7.0 Authentication required")
                    continue
                sender, rcpts = arg.split(":", 1)[1].strip().split(" ")[0].strip("<>"), []
                self.reply("250 2.1.0 OK")
            elif verb == "RCPT":
                if sender is None:
                    self.reply("503 5.5.1 MAIL first")
                    continue
                to = arg.split(":", 1)[1].strip().split(" ")[0].strip("<>")
                if opts.reject_domain and to.lower().endswith("@" + opts.reject_domain.lower()):
                    self.reply("550 5.1.1 No such user here")
                    continue
                rcpts.append(to)
                self.reply("250 2.1.5 OK")
            elif verb == "DATA":
                if not rcpts:
                    self.reply("503 5.5.1 RCPT first")
                    continue
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                lines = []
                while True:
                    raw = self.rfile.readline(1 << 20)
                    if not raw:
                        return
                    if raw in (b".\r\n", b".\n"):
                        break
                    if raw.startswith(b".."):
                        raw = raw[1:]
                    lines.append(raw)
                self.server.store(sender, rcpts, b"".join(lines).decode("utf-8", "replace"))
                self.reply("250 2.0.0 OK: queued")
                sender, rcpts = None, []
            elif verb == "RSET":
                sender, rcpts = None, []
                self.reply("250 2.0.0 OK")
            elif verb == "NOOP":
                self.reply("250 2.0.0 OK")
            elif verb == "QUIT":
                self.reply("221 2.0.0 Bye")
                return
            else:
                self.reply("502 5.5.2 Command not recognised")

    def auth(self, arg):
        opts = self.server.opts
        mech, _, initial = arg.partition(" ")
        try:
            if mech.upper() == "PLAIN":
                if not initial:
                    self.reply("334 ")
                    initial = self.readline()
                parts = base64.b64decode(initial).decode().split("\0")
                user, password = parts[1], parts[2]
            elif mech.upper() == "LOGIN":
                if initial:
                    user = base64.b64decode(initial).decode()
                else:
                    self.reply("334 VXNlcm5hbWU6")
                    user = base64.b64decode(self.readline()).decode()
                self.reply("334 UGFzc3dvcmQ6")
                password = base64.b64decode(self.readline()).decode()
            else:
                self.reply("504 5.5.4 Unrecognised authentication type")
                return False
        except (ValueError, IndexError, UnicodeDecodeError):
            self.reply("501 5.5.2 Cannot decode")
            return False
        if user == opts.user and password == opts.password:
            self.reply("235 2.7.0 Authentication successful")
            return True
        self.reply("535 5.7.8 Authentication credentials invalid")
        return False


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, opts):
        super().__init__(("127.0.0.1", opts.port), Handler)
        self.opts = opts
        self.lock = threading.Lock()
        self.count = 0
        os.makedirs(opts.spool, exist_ok=True)

    def store(self, sender, rcpts, data):
        with self.lock:
            self.count += 1
            name = os.path.join(self.opts.spool, f"{self.count:06d}.json")
        with open(name + ".tmp", "w", encoding="utf-8") as f:
            json.dump({"from": sender, "to": rcpts, "data": data}, f)
        os.rename(name + ".tmp", name)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    p.add_argument("--spool", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--lifetime", type=float, default=600)
    p.add_argument("--reject-domain")
    p.add_argument("--user")
    p.add_argument("--password")
    opts = p.parse_args()
    srv = Server(opts)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    print(f"port {srv.server_address[1]}", flush=True)
    parent, deadline = os.getppid(), time.monotonic() + opts.lifetime
    while time.monotonic() < deadline and os.getppid() == parent:
        time.sleep(0.2)
    sys.exit(0)


if __name__ == "__main__":
    main()
