"""The admin CLI `mcx` (DESIGN §5 "Admin CLI"): institution add, user add, token create,
token revoke, migrate and --help, against a fresh migrated database.

Conventions under test: the asked-for value alone on stdout (a generated password, a
token), humans on stderr, exit 0 ok / 1 failed / 2 usage; every write leaves an
audit_log row (actor "cli:<unix user>"), and audit_log refuses UPDATE, DELETE and
TRUNCATE (catalogue acceptance: "the audit log refuses UPDATE and DELETE").
"""

import base64
import hashlib
import hmac
import os
import pwd
import re
import subprocess
import uuid

import pytest

import mcxtest

ACTOR = "cli:" + pwd.getpwuid(os.geteuid()).pw_name
# server/auth.h: mcx_<lowercase uuid>_<64 lowercase hex digits>, nothing else.
TOKEN_RE = re.compile(r"^mcx_([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
                      r"_([0-9a-f]{64})$")
OK, FAILED, USAGE = 0, 1, 2


class Run:
    def __init__(self, r):
        self.rc, self.out, self.err = r.returncode, r.stdout, r.stderr

    def __repr__(self):
        return f"<mcx exit {self.rc}\nstdout: {self.out!r}\nstderr: {self.err!r}>"


def mcx(db, *args, stdin=None, env=None, url=True):
    """Runs `mcx ARGS` on db; fails the test on a sanitizer report."""
    extra = {"MCX_DATABASE_URL": db.url} if url else {}
    extra.update(env or {})
    r = subprocess.run([mcxtest.mcx_binary(), *args], input=stdin if stdin is not None else "",
                       capture_output=True, text=True, timeout=60, env=mcxtest.child_env(extra),
                       cwd=mcxtest.source_dir())
    run = Run(r)
    report = mcxtest.sanitizer_report(r.stderr)
    assert report is None, f"sanitizer report from mcx {args}:\n{report}"
    return run


def expect(run, rc, stdout=""):
    """Exit status and exact stdout (None: don't check stdout)."""
    assert run.rc == rc, run
    if stdout is not None:
        assert run.out == stdout, run
    return run


def psql_run(db, sql):
    return subprocess.run([mcxtest.psql_binary(), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                           "-d", db.url, "-c", sql], capture_output=True, text=True, timeout=30)


def q(db, sql):
    return db.query(sql)


def lit(s):
    """A SQL string literal for test-made values (the tests' own data, not input)."""
    return "'" + s.replace("'", "''") + "'"


def audit_count(db):
    return int(q(db, "SELECT count(*) FROM audit_log"))


def unique(prefix):
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def scrypt_matches(password, encoded):
    """Checks server/auth.c's encoding with another scrypt (Python's hashlib)."""
    kind, n, r, p, salt, key = encoded.split("$")
    assert kind == "scrypt"
    salt, key = base64.b64decode(salt, validate=True), base64.b64decode(key, validate=True)
    got = hashlib.scrypt(password.encode(), salt=salt, n=int(n), r=int(r), p=int(p),
                         dklen=len(key), maxmem=256 << 20)
    return hmac.compare_digest(got, key)


@pytest.fixture(scope="module")
def inst(db):
    """An institution for the user and token tests."""
    iid = unique("inst") + ".lt"
    expect(mcx(db, "institution", "add", iid, "--name", "Test University", "--country", "LT"), OK)
    return iid


@pytest.fixture(scope="module")
def publisher(db, inst):
    email = unique("pub") + "@example.org"
    expect(mcx(db, "user", "add", email, "--role", "publisher", "--institution", inst,
               "--password-stdin", stdin="a long enough password\n"), OK)
    return email


# ---------------------------------------------------------------------------
# help and migrate


def test_help_lists_every_command(db):
    run = expect(mcx(db, "--help"), OK, stdout=None)
    for line in ("mcx migrate",
                 "mcx institution add ID --name NAME --country CC [--local-name LANG=NAME]",
                 "mcx user add EMAIL --role student|publisher|registrar|admin [--institution ID]",
                 "[--password-stdin]",
                 "mcx token create --user EMAIL [--name LABEL]",
                 "mcx token revoke TOKEN"):
        assert line in run.out, run
    for words in (["institution", "add"], ["user", "add"], ["token", "create"],
                  ["token", "revoke"]):
        sub = expect(mcx(db, *words, "--help"), OK, stdout=None)
        assert sub.out.startswith("usage: mcx " + " ".join(words)), sub


def test_unknown_command_is_usage(db):
    expect(mcx(db, "institution"), USAGE)
    expect(mcx(db, "institution", "remove", "x.lt"), USAGE)
    expect(mcx(db, "token"), USAGE)


def test_migrate_again_is_a_no_op(db):
    run = expect(mcx(db, "migrate"), OK)
    assert "0 migration(s) applied" in run.err, run
    assert q(db, "SELECT count(*) FROM schema_migrations WHERE name = '002_accounts.sql'") == "1"


def test_no_database_configured_is_usage(db):
    for args in (["institution", "add", "a.lt", "--name", "A", "--country", "LT"],
                 ["user", "add", "a@example.org", "--role", "admin"],
                 ["token", "create", "--user", "a@example.org"],
                 ["token", "revoke", str(uuid.uuid4())]):
        run = expect(mcx(db, *args, url=False), USAGE)
        assert "MCX_DATABASE_URL" in run.err, run


def test_unreachable_database_fails(db):
    run = expect(mcx(db, "--database-url", "host=/nonexistent/mcx dbname=none user=none",
                     "institution", "add", "a.lt", "--name", "A", "--country", "LT"), FAILED)
    assert "cannot connect" in run.err, run


# ---------------------------------------------------------------------------
# mcx institution add


def test_institution_add(db):
    iid = unique("vdu") + ".lt"
    before = audit_count(db)
    run = expect(mcx(db, "institution", "add", iid, "--name", "Vytauto Didžiojo universitetas",
                     "--country", "lt", "--home"), OK)
    assert iid in run.err, run
    row = q(db, f"SELECT name::text, country, is_home FROM institutions WHERE id = {lit(iid)}")
    assert row == '{"en": "Vytauto Didžiojo universitetas"}|LT|t', row
    assert audit_count(db) == before + 1
    audit = q(db, "SELECT actor, action, entity, entity_id, before_hash IS NULL,"
                  " details->>'country' FROM audit_log ORDER BY id DESC LIMIT 1")
    assert audit == f"{ACTOR}|create|institution|{iid}|t|LT", audit
    # after_hash is the row's: the audit entry can prove the row unchanged since.
    assert q(db, "SELECT (SELECT after_hash FROM audit_log ORDER BY id DESC LIMIT 1) ="
                 f" audit_hash(to_jsonb(i)) FROM institutions i WHERE id = {lit(iid)}") == "t"


def test_institution_add_local_name_and_homepage(db):
    """What the front end shows of a provider: its own-language name and its homepage."""
    iid = unique("lille") + ".fr"
    expect(mcx(db, "institution", "add", iid, "--name", "University of Lille", "--country", "FR",
               "--local-name", "fr=Université de Lille", "--homepage", "https://www.univ-lille.fr/"),
           OK)
    row = q(db, f"SELECT name->>'en', name->>'fr', homepage FROM institutions WHERE id = {lit(iid)}")
    assert row == "University of Lille|Université de Lille|https://www.univ-lille.fr/", row
    assert q(db, "SELECT details->>'homepage' FROM audit_log ORDER BY id DESC LIMIT 1") == \
        "https://www.univ-lille.fr/"


def test_institution_partner_by_default(db):
    iid = unique("uab") + ".cat"
    expect(mcx(db, "institution", "add", iid, "--name=Universitat Autònoma de Barcelona",
               "--country=ES"), OK)
    assert q(db, f"SELECT is_home FROM institutions WHERE id = {lit(iid)}") == "f"


def test_institution_add_existing_fails(db):
    iid = unique("dup") + ".lt"
    expect(mcx(db, "institution", "add", iid, "--name", "First", "--country", "LT"), OK)
    before = audit_count(db)
    run = expect(mcx(db, "institution", "add", iid, "--name", "Second", "--country", "LV"), FAILED)
    assert f"institution {iid} exists" in run.err, run
    assert q(db, f"SELECT name->>'en', country FROM institutions WHERE id = {lit(iid)}") == \
        "First|LT"
    assert audit_count(db) == before


@pytest.mark.parametrize("args", [
    [],                                                        # no ID
    ["--name", "X", "--country", "LT"],                        # no ID
    ["x.lt", "--country", "LT"],                               # no --name
    ["x.lt", "--name", "X"],                                   # no --country
    ["x.lt", "--name"],                                        # --name without value
    ["x.lt", "y.lt", "--name", "X", "--country", "LT"],        # two IDs
    ["x.lt", "--name", "X", "--country", "LT", "--colour", "red"],
    ["X.LT", "--name", "X", "--country", "LT"],                # uppercase id
    ["-x.lt", "--name", "X", "--country", "LT"],               # taken for an option
    ["--", "-x.lt"],                                           # bad first character
    ["x lt", "--name", "X", "--country", "LT"],
    ["a" * 128, "--name", "X", "--country", "LT"],             # too long
    ["x.lt", "--name", "", "--country", "LT"],                 # empty name
    ["x.lt", "--name", "two\nlines", "--country", "LT"],
    ["x.lt", "--name", "X", "--country", "LTU"],
    ["x.lt", "--name", "X", "--country", "L1"],
    ["x.lt", "--name", "X", "--country", "LT", "--local-name", "Vilnius"],      # no LANG=
    ["x.lt", "--name", "X", "--country", "LT", "--local-name", "LT=Vilnius"],   # upper case
    ["x.lt", "--name", "X", "--country", "LT", "--local-name", "lt="],          # empty name
    ["x.lt", "--name", "X", "--country", "LT", "--homepage", "ftp://x.lt/"],
    ["x.lt", "--name", "X", "--country", "LT", "--homepage", "https://x.lt/a b"],
])
def test_institution_add_usage_errors(db, args):
    before = audit_count(db)
    expect(mcx(db, "institution", "add", *args), USAGE)
    assert audit_count(db) == before
    assert q(db, "SELECT count(*) FROM institutions WHERE id IN ('x.lt', 'y.lt')") == "0"


# ---------------------------------------------------------------------------
# mcx user add


def test_user_add_generated_password(db, inst):
    email = unique("ada") + "@Example.org"
    before = audit_count(db)
    run = expect(mcx(db, "user", "add", email, "--role", "publisher", "--institution", inst),
                 OK, stdout=None)
    assert re.fullmatch(r"[A-Za-z0-9]{24}\n", run.out), run  # the password, alone
    password = run.out.strip()
    assert password not in run.err
    row = q(db, "SELECT role, institution_id, password_hash, disabled_at IS NULL FROM users"
                f" WHERE email = {lit(email)}")
    role, institution, phash, enabled = row.split("|")
    assert (role, institution, enabled) == ("publisher", inst, "t")
    assert phash.startswith("scrypt$32768$8$1$") and password not in phash
    assert scrypt_matches(password, phash)
    assert not scrypt_matches(password + "x", phash)
    assert audit_count(db) == before + 1
    audit = q(db, "SELECT actor, action, entity, details->>'email', details->>'role'"
                  " FROM audit_log ORDER BY id DESC LIMIT 1")
    assert audit == f"{ACTOR}|create|user|{email}|publisher", audit
    assert password not in q(db, "SELECT details::text FROM audit_log ORDER BY id DESC LIMIT 1")


def test_user_add_password_stdin(db):
    email = unique("root") + "@example.org"
    for role in ("admin", "student"):
        addr = role + "." + email
        expect(mcx(db, "user", "add", addr, "--role", role, "--password-stdin",
                   stdin="correct horse battery staple\r\n"), OK)
        phash = q(db, f"SELECT password_hash FROM users WHERE email = {lit(addr)}")
        assert scrypt_matches("correct horse battery staple", phash)
        assert q(db, f"SELECT institution_id IS NULL FROM users WHERE email = {lit(addr)}") == "t"


def test_user_add_registrar(db, inst):
    email = unique("reg") + "@example.org"
    expect(mcx(db, "user", "add", email, "--role", "registrar", "--institution", inst,
               "--password-stdin", stdin="ünïcode pässword"), OK)
    assert q(db, f"SELECT role, institution_id FROM users WHERE email = {lit(email)}") == \
        f"registrar|{inst}"


def test_user_add_duplicate_email_any_case_fails(db, publisher):
    before = audit_count(db)
    run = expect(mcx(db, "user", "add", publisher.upper(), "--role", "admin"), FAILED)
    assert "exists" in run.err, run
    assert audit_count(db) == before
    assert q(db, f"SELECT count(*) FROM users WHERE lower(email) = lower({lit(publisher)})") == "1"


def test_user_add_unknown_institution_fails(db):
    email = unique("nobody") + "@example.org"
    before = audit_count(db)
    run = expect(mcx(db, "user", "add", email, "--role", "publisher", "--institution",
                     "no-such.lt"), FAILED)
    assert "unknown institution no-such.lt" in run.err, run
    assert q(db, f"SELECT count(*) FROM users WHERE email = {lit(email)}") == "0"
    assert audit_count(db) == before


@pytest.mark.parametrize("args,stdin", [
    (["u@example.org"], None),                                          # no --role
    ([], None),                                                         # no EMAIL
    (["u@example.org", "--role", "superuser"], None),
    (["u@example.org", "--role", "Admin"], None),
    (["u@example.org", "--role", "publisher"], None),                   # needs institution
    (["u@example.org", "--role", "registrar"], None),
    (["u@example.org", "--role", "admin", "--institution", "Bad Id"], None),
    (["not-an-address", "--role", "student"], None),
    (["u@localhost", "--role", "student"], None),
    (["u @example.org", "--role", "student"], None),
    (["u@example.org", "v@example.org", "--role", "student"], None),
    (["u@example.org", "--role", "student", "--password-stdin"], "short\n"),
    (["u@example.org", "--role", "student", "--password-stdin"], ""),
    (["u@example.org", "--role", "student", "--password-stdin"], "two\nlines here\n"),
    (["u@example.org", "--role", "student", "--password-stdin"], "x" * 1025),
])
def test_user_add_usage_errors(db, args, stdin):
    before = audit_count(db)
    expect(mcx(db, "user", "add", *args, stdin=stdin), USAGE)
    assert q(db, "SELECT count(*) FROM users WHERE email IN ('u@example.org', 'v@example.org')"
                 " OR email NOT LIKE '%@%.%'") == "0"
    assert audit_count(db) == before


def test_user_add_longest_password(db):
    email = unique("long") + "@example.org"
    expect(mcx(db, "user", "add", email, "--role", "student", "--password-stdin",
               stdin="p" * 1024 + "\n"), OK)
    assert scrypt_matches("p" * 1024, q(db, f"SELECT password_hash FROM users"
                                            f" WHERE email = {lit(email)}"))


# ---------------------------------------------------------------------------
# mcx token create / revoke


def create_token(db, email, *extra):
    run = expect(mcx(db, "token", "create", "--user", email, *extra), OK, stdout=None)
    assert run.out.endswith("\n") and run.out.count("\n") == 1, run  # one line, the token
    token = run.out.strip()
    m = TOKEN_RE.fullmatch(token)
    assert m, run
    assert token not in run.err
    return token, m.group(1), m.group(2)


def test_token_create(db, publisher):
    before = audit_count(db)
    token, tid, secret = create_token(db, publisher.upper(), "--name", "CI publishing")
    row = q(db, "SELECT u.email, t.name, t.secret_hash, t.revoked_at IS NULL, t.last_used_at"
                f" FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = {lit(tid)}")
    email, name, secret_hash, live, last_used = row.split("|")
    assert (email, name, live, last_used) == (publisher, "CI publishing", "t", "")
    assert secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    # Neither the secret nor the token is stored anywhere in clear.
    for table in ("api_tokens", "audit_log", "users"):
        dump = q(db, f"SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM {table} t")
        assert secret not in dump and token not in dump, table
    assert audit_count(db) == before + 1
    audit = q(db, "SELECT actor, action, entity, entity_id, details->>'name'"
                  " FROM audit_log ORDER BY id DESC LIMIT 1")
    assert audit == f"{ACTOR}|create|api_token|{tid}|CI publishing", audit


def test_tokens_are_unique(db, publisher):
    tokens = {create_token(db, publisher)[0] for _ in range(3)}
    assert len(tokens) == 3


def test_token_create_unknown_user_fails(db):
    before = audit_count(db)
    run = expect(mcx(db, "token", "create", "--user", "nobody@example.org"), FAILED)
    assert "no user" in run.err, run
    assert audit_count(db) == before


def test_token_create_disabled_user_fails(db):
    email = unique("gone") + "@example.org"
    expect(mcx(db, "user", "add", email, "--role", "student"), OK, stdout=None)
    q(db, f"UPDATE users SET disabled_at = now() WHERE email = {lit(email)}")
    run = expect(mcx(db, "token", "create", "--user", email), FAILED)
    assert "disabled" in run.err, run


@pytest.mark.parametrize("args", [
    [],
    ["--user"],
    ["--name", "x"],
    ["pub@example.org"],
    ["--user", "pub@example.org", "extra"],
    ["--user", "not-an-address"],
    ["--user", "pub@example.org", "--name", ""],
    ["--user", "pub@example.org", "--name", "tab\there"],
])
def test_token_create_usage_errors(db, args):
    before = audit_count(db)
    expect(mcx(db, "token", "create", *args), USAGE)
    assert audit_count(db) == before


def test_token_revoke(db, publisher):
    token, tid, _ = create_token(db, publisher, "--name", "to revoke")
    before = audit_count(db)
    run = expect(mcx(db, "token", "revoke", token), OK)
    assert tid in run.err and token not in run.err, run
    assert q(db, f"SELECT revoked_at IS NOT NULL FROM api_tokens WHERE id = {lit(tid)}") == "t"
    assert audit_count(db) == before + 1
    audit = q(db, "SELECT actor, action, entity, entity_id, before_hash <> after_hash"
                  " FROM audit_log ORDER BY id DESC LIMIT 1")
    assert audit == f"{ACTOR}|revoke|api_token|{tid}|t", audit
    # Again: nothing to do, still success, no second entry.
    run = expect(mcx(db, "token", "revoke", token), OK)
    assert "already revoked" in run.err, run
    assert audit_count(db) == before + 1


def test_token_revoke_by_id(db, publisher):
    _, tid, _ = create_token(db, publisher)
    expect(mcx(db, "token", "revoke", tid), OK)
    assert q(db, f"SELECT revoked_at IS NOT NULL FROM api_tokens WHERE id = {lit(tid)}") == "t"


def test_token_revoke_wrong_secret_fails(db, publisher):
    token, tid, secret = create_token(db, publisher)
    wrong = token[:-64] + ("0" if secret[0] != "0" else "1") + secret[1:]
    before = audit_count(db)
    run = expect(mcx(db, "token", "revoke", wrong), FAILED)
    assert "no such token" in run.err, run
    assert q(db, f"SELECT revoked_at IS NULL FROM api_tokens WHERE id = {lit(tid)}") == "t"
    assert audit_count(db) == before


def test_token_revoke_unknown_fails(db):
    expect(mcx(db, "token", "revoke", str(uuid.uuid4())), FAILED)
    expect(mcx(db, "token", "revoke", f"mcx_{uuid.uuid4()}_{'ab' * 32}"), FAILED)


@pytest.mark.parametrize("args", [
    [],
    ["garbage"],
    ["mcx_x_y"],
    ["Bearer mcx_00000000-0000-4000-8000-000000000000_" + "a" * 64],
    ["mcx_00000000-0000-4000-8000-000000000000_" + "A" * 64],
    ["mcx_00000000-0000-4000-8000-000000000000_" + "a" * 63],
    [str(uuid.uuid4()).upper()],
    [str(uuid.uuid4()), str(uuid.uuid4())],
])
def test_token_revoke_usage_errors(db, args):
    before = audit_count(db)
    expect(mcx(db, "token", "revoke", *args), USAGE)
    assert audit_count(db) == before


# ---------------------------------------------------------------------------
# audit_log is append-only


@pytest.mark.parametrize("sql", [
    "UPDATE audit_log SET actor = 'someone else'",
    "UPDATE audit_log SET details = NULL WHERE id = (SELECT max(id) FROM audit_log)",
    "DELETE FROM audit_log",
    "DELETE FROM audit_log WHERE id = (SELECT min(id) FROM audit_log)",
    "TRUNCATE audit_log",
    "TRUNCATE audit_log CASCADE",
])
def test_audit_log_refuses_changes(db, inst, sql):
    # inst added a row at least, so the row triggers have something to fire on.
    rows = q(db, "SELECT count(*), coalesce(string_agg(md5(a::text), ',' ORDER BY id), '')"
                 " FROM audit_log a")
    assert int(rows.split("|")[0]) > 0
    r = psql_run(db, sql)
    assert r.returncode != 0, r
    assert "audit_log is append-only" in r.stderr, r.stderr
    assert q(db, "SELECT count(*), coalesce(string_agg(md5(a::text), ',' ORDER BY id), '')"
                 " FROM audit_log a") == rows


def test_audit_log_accepts_inserts(db):
    before = audit_count(db)
    r = psql_run(db, "INSERT INTO audit_log (actor, action, entity) VALUES ('test', 'note', 'x')")
    assert r.returncode == 0, r.stderr
    assert audit_count(db) == before + 1
