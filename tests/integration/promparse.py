"""
promparse — a strict parser for the Prometheus text exposition format 0.0.4.

It accepts what Prometheus accepts from a well-behaved exporter and rejects the rest
with ParseError naming the line:

* UTF-8 text, lines ending in LF (the last one too); blank lines and plain comments skipped;
* `# HELP name text` (escapes \\\\ and \\n only) and `# TYPE name counter|gauge|histogram|
  summary|untyped`, each at most once per family and before the family's first sample;
* samples `name{label="value",...} value [timestamp]`: metric names
  [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* (not starting "__", no
  duplicates), label values with the escapes \\\\, \\" and \\n only, values as Go's
  ParseFloat spells them in exposition (decimal, exponent, +Inf, -Inf, NaN), an optional
  integer timestamp;
* all lines of a family form one group; no series appears twice;
* counters are >= 0; histograms have only _bucket (with a float "le"), _sum and _count
  samples, buckets cumulative (non-decreasing as le grows), an le="+Inf" bucket equal to
  _count, and _sum/_count for every bucket set; summaries have quantile in [0, 1] on the
  bare name and _sum/_count.
"""

import math
import re

METRIC_NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
FLOAT_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
TIMESTAMP_RE = re.compile(r"-?[0-9]+")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")
BLANKS = " \t"


class ParseError(ValueError):
    def __init__(self, lineno, message, line=None):
        self.lineno = lineno
        text = f"line {lineno}: {message}"
        if line is not None:
            text += f": {line[:200]!r}"
        super().__init__(text)


def parse_float(s):
    """A sample value or le/quantile label, as the text format spells it; None if invalid."""
    if s in ("+Inf", "Inf"):
        return math.inf
    if s == "-Inf":
        return -math.inf
    if s == "NaN":
        return math.nan
    if FLOAT_RE.fullmatch(s):
        return float(s)
    return None


class Sample:
    __slots__ = ("name", "labels", "value", "timestamp", "lineno")

    def __init__(self, name, labels, value, timestamp, lineno):
        self.name = name
        self.labels = labels
        self.value = value
        self.timestamp = timestamp
        self.lineno = lineno

    def key(self):
        return (self.name, frozenset(self.labels.items()))

    def __repr__(self):
        return f"{self.name}{self.labels} {self.value}"


class Family:
    def __init__(self, name):
        self.name = name
        self.type = None
        self.help = None
        self.samples = []

    def __repr__(self):
        return f"<Family {self.name} {self.type} {len(self.samples)} samples>"


class Exposition:
    def __init__(self):
        self.families = {}

    def all_samples(self):
        for fam in self.families.values():
            yield from fam.samples

    def samples(self, name, **labels):
        return [s for s in self.all_samples()
                if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]

    def value(self, name, **labels):
        found = self.samples(name, **labels)
        if len(found) != 1:
            raise AssertionError(f"expected one {name}{labels}, found {found}")
        return found[0].value

    def sum(self, name, **labels):
        return sum(s.value for s in self.samples(name, **labels))

    def family(self, name):
        return self.families.get(name)


def _unescape_help(text, lineno, line):
    out = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            if i + 1 >= len(text):
                raise ParseError(lineno, "dangling backslash in HELP", line)
            n = text[i + 1]
            if n == "\\":
                out.append("\\")
            elif n == "n":
                out.append("\n")
            else:
                raise ParseError(lineno, f"invalid escape \\{n} in HELP", line)
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _parse_labels(line, i, lineno):
    """Parses from just after '{'; returns (labels, index after '}')."""
    labels = {}
    while True:
        while i < len(line) and line[i] in BLANKS:
            i += 1
        if i < len(line) and line[i] == "}":
            return labels, i + 1
        m = LABEL_NAME_RE.match(line, i)
        if not m:
            raise ParseError(lineno, f"invalid label name at column {i + 1}", line)
        lname = m.group(0)
        if lname.startswith("__"):
            raise ParseError(lineno, f"reserved label name {lname}", line)
        if lname in labels:
            raise ParseError(lineno, f"duplicate label {lname}", line)
        i = m.end()
        while i < len(line) and line[i] in BLANKS:
            i += 1
        if i >= len(line) or line[i] != "=":
            raise ParseError(lineno, f"expected '=' after label {lname}", line)
        i += 1
        while i < len(line) and line[i] in BLANKS:
            i += 1
        if i >= len(line) or line[i] != '"':
            raise ParseError(lineno, f"expected '\"' to open the value of {lname}", line)
        i += 1
        val = []
        while True:
            if i >= len(line):
                raise ParseError(lineno, f"unterminated value of label {lname}", line)
            c = line[i]
            if c == "\\":
                if i + 1 >= len(line):
                    raise ParseError(lineno, "dangling backslash in label value", line)
                n = line[i + 1]
                if n == "\\":
                    val.append("\\")
                elif n == '"':
                    val.append('"')
                elif n == "n":
                    val.append("\n")
                else:
                    raise ParseError(lineno, f"invalid escape \\{n} in label value", line)
                i += 2
            elif c == '"':
                i += 1
                break
            else:
                val.append(c)
                i += 1
        labels[lname] = "".join(val)
        while i < len(line) and line[i] in BLANKS:
            i += 1
        if i < len(line) and line[i] == ",":
            i += 1
            continue
        if i < len(line) and line[i] == "}":
            return labels, i + 1
        raise ParseError(lineno, "expected ',' or '}' after a label value", line)


def _parse_sample(line, lineno):
    m = METRIC_NAME_RE.match(line)
    if not m:
        raise ParseError(lineno, "invalid metric name", line)
    name = m.group(0)
    i = m.end()
    labels = {}
    if i < len(line) and line[i] == "{":
        labels, i = _parse_labels(line, i + 1, lineno)
    rest = line[i:]
    if not rest or rest[0] not in BLANKS:
        raise ParseError(lineno, "expected blank before the value", line)
    fields = rest.strip(BLANKS).split()
    # Only blanks (space/tab) separate tokens; other whitespace is invalid.
    for ch in rest:
        if ch.isspace() and ch not in BLANKS:
            raise ParseError(lineno, "invalid whitespace", line)
    if len(fields) not in (1, 2):
        raise ParseError(lineno, "expected a value and an optional timestamp", line)
    value = parse_float(fields[0])
    if value is None:
        raise ParseError(lineno, f"invalid value {fields[0]!r}", line)
    ts = None
    if len(fields) == 2:
        if not TIMESTAMP_RE.fullmatch(fields[1]):
            raise ParseError(lineno, f"invalid timestamp {fields[1]!r}", line)
        ts = int(fields[1])
    return Sample(name, labels, value, ts, lineno)


def _family_of(sample_name, declared):
    """The family a sample belongs to, given the TYPEs declared so far."""
    for suffix in ("_bucket", "_sum", "_count"):
        if sample_name.endswith(suffix):
            base = sample_name[: -len(suffix)]
            fam = declared.get(base)
            if fam is not None and fam.type in ("histogram", "summary"):
                if suffix == "_bucket" and fam.type == "summary":
                    break
                return base
    return sample_name


def parse(text):
    """Parses an exposition (str or bytes); returns Exposition or raises ParseError."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ParseError(0, f"not UTF-8: {e}") from None
    if text and not text.endswith("\n"):
        raise ParseError(text.count("\n") + 1, "the last line does not end with LF")
    expo = Exposition()
    fams = expo.families
    closed = set()  # families whose group has ended
    current = None  # family of the current group
    seen = set()

    def enter(name, lineno, line):
        nonlocal current
        if current == name:
            return
        if name in closed:
            raise ParseError(lineno, f"lines of {name} are not one group", line)
        if current is not None:
            closed.add(current)
        current = name

    lines = text.split("\n")[:-1] if text else []
    for lineno, line in enumerate(lines, 1):
        if "\r" in line:
            raise ParseError(lineno, "carriage return in line", line)
        if line.strip(BLANKS) == "":
            continue
        if line.startswith("#"):
            parts = line[1:].lstrip(BLANKS)
            tokens = re.split(r"[ \t]+", parts, maxsplit=2)
            if tokens[0] not in ("HELP", "TYPE"):
                continue  # a plain comment
            if len(tokens) < 2 or not METRIC_NAME_RE.fullmatch(tokens[1]):
                raise ParseError(lineno, f"{tokens[0]} without a valid metric name", line)
            name = tokens[1]
            fam = fams.get(name)
            if fam is None:
                fam = fams[name] = Family(name)
            enter(name, lineno, line)
            if fam.samples:
                raise ParseError(lineno, f"{tokens[0]} for {name} after its samples", line)
            if tokens[0] == "HELP":
                if fam.help is not None:
                    raise ParseError(lineno, f"second HELP for {name}", line)
                fam.help = _unescape_help(tokens[2] if len(tokens) > 2 else "", lineno, line)
            else:
                if fam.type is not None:
                    raise ParseError(lineno, f"second TYPE for {name}", line)
                if len(tokens) != 3 or tokens[2].strip(BLANKS) not in TYPES:
                    raise ParseError(lineno, "TYPE needs one of " + ", ".join(TYPES), line)
                fam.type = tokens[2].strip(BLANKS)
            continue
        s = _parse_sample(line, lineno)
        fname = _family_of(s.name, fams)
        fam = fams.get(fname)
        if fam is None:
            fam = fams[fname] = Family(fname)
        enter(fname, lineno, line)
        key = s.key()
        if key in seen:
            raise ParseError(lineno, "duplicate series", line)
        seen.add(key)
        _check_sample(fam, s, lineno, line)
        fam.samples.append(s)

    for fam in fams.values():
        if fam.type is None:
            fam.type = "untyped"
        if fam.type == "histogram":
            _check_histogram(fam)
        elif fam.type == "summary":
            _check_summary(fam)
    return expo


def _check_sample(fam, s, lineno, line):
    if fam.type == "counter":
        if s.name != fam.name:
            raise ParseError(lineno, f"sample {s.name} in counter {fam.name}", line)
        if math.isnan(s.value) or s.value < 0:
            raise ParseError(lineno, "counter value must be >= 0", line)
    elif fam.type == "histogram":
        if s.name == fam.name + "_bucket":
            if "le" not in s.labels:
                raise ParseError(lineno, "histogram bucket without le", line)
            le = parse_float(s.labels["le"])
            if le is None or math.isnan(le):
                raise ParseError(lineno, f"invalid le {s.labels['le']!r}", line)
        elif s.name in (fam.name + "_sum", fam.name + "_count"):
            if "le" in s.labels:
                raise ParseError(lineno, "le label outside a bucket", line)
        else:
            raise ParseError(lineno, f"sample {s.name} in histogram {fam.name}", line)
        if s.name != fam.name + "_sum" and (math.isnan(s.value) or s.value < 0 or
                                             s.value != math.floor(s.value)):
            raise ParseError(lineno, "bucket and count values must be whole numbers >= 0", line)
    elif fam.type == "summary":
        if s.name == fam.name:
            q = parse_float(s.labels.get("quantile", ""))
            if q is None or not 0 <= q <= 1:
                raise ParseError(lineno, "summary sample needs quantile in [0, 1]", line)
        elif s.name in (fam.name + "_sum", fam.name + "_count"):
            if "quantile" in s.labels:
                raise ParseError(lineno, "quantile label on _sum/_count", line)
        else:
            raise ParseError(lineno, f"sample {s.name} in summary {fam.name}", line)
    elif fam.type in ("gauge", "untyped"):
        if s.name != fam.name:
            raise ParseError(lineno, f"sample {s.name} in {fam.type} {fam.name}", line)


def _group_key(labels, drop):
    return frozenset((k, v) for k, v in labels.items() if k != drop)


def _check_histogram(fam):
    groups = {}
    for s in fam.samples:
        g = groups.setdefault(_group_key(s.labels, "le"),
                              {"buckets": [], "sum": None, "count": None})
        if s.name.endswith("_bucket"):
            g["buckets"].append((parse_float(s.labels["le"]), s.value, s.lineno))
        elif s.name.endswith("_sum"):
            g["sum"] = s
        else:
            g["count"] = s
    for key, g in groups.items():
        where = f"histogram {fam.name}{dict(key)}"
        if not g["buckets"]:
            raise ParseError(0, f"{where}: no buckets")
        if g["count"] is None or g["sum"] is None:
            raise ParseError(0, f"{where}: missing _sum or _count")
        buckets = sorted(g["buckets"])
        les = [b[0] for b in buckets]
        if len(set(les)) != len(les):
            raise ParseError(0, f"{where}: two buckets with the same le")
        if les[-1] != math.inf:
            raise ParseError(0, f"{where}: no le=\"+Inf\" bucket")
        for (le_a, va, _), (le_b, vb, ln) in zip(buckets, buckets[1:]):
            if vb < va:
                raise ParseError(ln, f"{where}: bucket le={le_b} ({vb}) < le={le_a} ({va}); "
                                     "buckets must be cumulative")
        if buckets[-1][1] != g["count"].value:
            raise ParseError(g["count"].lineno, f"{where}: +Inf bucket {buckets[-1][1]} != "
                                                f"_count {g['count'].value}")


def _check_summary(fam):
    groups = {}
    for s in fam.samples:
        g = groups.setdefault(_group_key(s.labels, "quantile"), {"sum": 0, "count": 0})
        if s.name.endswith("_sum"):
            g["sum"] += 1
        elif s.name.endswith("_count"):
            g["count"] += 1
    for key, g in groups.items():
        if g["sum"] != 1 or g["count"] != 1:
            raise ParseError(0, f"summary {fam.name}{dict(key)}: needs one _sum and one _count")
