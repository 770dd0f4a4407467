"""The strict Prometheus text parser used by test_metrics.py must itself be right."""

import math

import pytest

import promparse
from promparse import ParseError, parse

GOOD = """\
# HELP http_requests_total Requests, by "route" \\\\ and\\nstatus.
# TYPE http_requests_total counter
http_requests_total{route="/a",status="200"} 3
http_requests_total{route="/a\\\\b\\"c\\nd",status="404",} 0 1700000000000
# A plain comment is ignored.

# HELP lat Latency.
# TYPE lat histogram
lat_bucket{route="/a",le="0.1"} 1
lat_bucket{route="/a",le="1"} 2
lat_bucket{route="/a",le="+Inf"} 3
lat_sum{route="/a"} 4.5
lat_count{route="/a"} 3
lat_bucket{route="/b",le="0.1"} 0
lat_bucket{route="/b",le="+Inf"} 0
lat_sum{route="/b"} 0
lat_count{route="/b"} 0
# TYPE temp gauge
temp{room="x"} -1.5e3
temp{room="y"} NaN
temp{room="z"} +Inf
temp{room="w"} -Inf
temp{room="v"} .5
# TYPE rpc summary
rpc{quantile="0.5"} 1
rpc{quantile="0.99"} 2
rpc_sum 10
rpc_count 4
no_type_metric 7
"""


def test_accepts_valid_exposition():
    expo = parse(GOOD)
    fam = expo.family("http_requests_total")
    assert fam.type == "counter"
    assert fam.help == 'Requests, by "route" \\ and\nstatus.'
    assert expo.value("http_requests_total", route="/a", status="200") == 3
    odd = expo.samples("http_requests_total", status="404")[0]
    assert odd.labels["route"] == '/a\\b"c\nd'
    assert odd.timestamp == 1700000000000
    assert expo.family("lat").type == "histogram"
    assert expo.value("lat_count", route="/a") == 3
    assert expo.value("temp", room="x") == -1500.0
    assert math.isnan(expo.value("temp", room="y"))
    assert expo.value("temp", room="z") == math.inf
    assert expo.value("temp", room="w") == -math.inf
    assert expo.value("temp", room="v") == 0.5
    assert expo.family("no_type_metric").type == "untyped"
    assert expo.sum("http_requests_total") == 3


def test_accepts_empty_input():
    assert parse("").families == {}


BAD = {
    "no final newline": "a 1",
    "bad metric name": "1abc 1\n",
    "dash in metric name": "a-b 1\n",
    "no value": "a\n",
    "value not a number": "a one\n",
    "python-only float spelling": "a 1_000\n",
    "infinity spelled out": "a infinity\n",
    "lowercase nan": "a nan\n",
    "hex value": "a 0x10\n",
    "bad timestamp": "a 1 1.5\n",
    "three fields": "a 1 2 3\n",
    "label name with dash": 'a{b-c="1"} 1\n',
    "label name starting with digit": 'a{1b="1"} 1\n',
    "reserved label name": 'a{__name__="x"} 1\n',
    "duplicate label": 'a{b="1",b="2"} 1\n',
    "unquoted label value": "a{b=1} 1\n",
    "unterminated label value": 'a{b="1} 1\n',
    "invalid escape in label value": 'a{b="\\t"} 1\n',
    "missing closing brace": 'a{b="1" 1\n',
    "missing comma": 'a{b="1" c="2"} 1\n',
    "no blank before value": 'a{b="1"}1\n',
    "carriage return": "a 1\r\n",
    "TYPE unknown": "# TYPE a countr\na 1\n",
    "TYPE without type": "# TYPE a\na 1\n",
    "TYPE after samples": "a 1\n# TYPE a gauge\n",
    "second TYPE": "# TYPE a gauge\n# TYPE a gauge\na 1\n",
    "second HELP": "# HELP a x\n# HELP a y\na 1\n",
    "HELP after samples": "a 1\n# HELP a x\n",
    "invalid escape in HELP": "# HELP a bad \\t escape\na 1\n",
    "HELP with bad name": "# HELP 9a text\n",
    "duplicate series": 'a{b="1"} 1\na{b="1"} 2\n',
    "duplicate series, labels reordered": 'a{b="1",c="2"} 1\na{c="2",b="1"} 2\n',
    "family not one group": "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na{x=\"1\"} 2\n",
    "negative counter": "# TYPE c counter\nc -1\n",
    "NaN counter": "# TYPE c counter\nc NaN\n",
    "histogram bucket without le": "# TYPE h histogram\nh_bucket 1\nh_sum 1\nh_count 1\n",
    "histogram bad le": '# TYPE h histogram\nh_bucket{le="x"} 1\nh_bucket{le="+Inf"} 1\n'
                        "h_sum 1\nh_count 1\n",
    "histogram without +Inf": '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n',
    "histogram not cumulative": '# TYPE h histogram\nh_bucket{le="1"} 5\nh_bucket{le="2"} 3\n'
                                'h_bucket{le="+Inf"} 5\nh_sum 1\nh_count 5\n',
    "histogram +Inf != count": '# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\n'
                               "h_sum 1\nh_count 3\n",
    "histogram without count": '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\n',
    "histogram without sum": '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_count 2\n',
    "histogram bare sample": '# TYPE h histogram\nh 1\n',
    "histogram fractional count": '# TYPE h histogram\nh_bucket{le="+Inf"} 1.5\nh_sum 1\n'
                                  "h_count 1.5\n",
    "histogram le on sum": '# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_sum{le="1"} 1\n'
                           "h_count 1\n",
    "summary without quantile": "# TYPE s summary\ns 1\ns_sum 1\ns_count 1\n",
    "summary quantile out of range": '# TYPE s summary\ns{quantile="2"} 1\ns_sum 1\ns_count 1\n',
    "not UTF-8": b"a{b=\"\xff\"} 1\n",
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_rejects_malformed(case):
    with pytest.raises(ParseError):
        parse(BAD[case])


def test_parse_float_spellings():
    assert promparse.parse_float("1e3") == 1000.0
    assert promparse.parse_float("-0.25") == -0.25
    assert promparse.parse_float("+Inf") == math.inf
    assert promparse.parse_float("1.") == 1.0
    for bad in ("", "e3", "1e", "--1", "1,5", " 1", "inf", "NAN"):
        assert promparse.parse_float(bad) is None, bad
