"""The fault-injecting test server itself behaves as its faults say (checked with urllib)."""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request

import pytest

from tests.helpers.httpserver import FaultServer, closed_port_url

DATA = bytes(range(256)) * 100


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, dict]:
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, resp.read(), dict(resp.headers)


def test_range_is_honoured_only_with_a_matching_if_range(http_server: FaultServer) -> None:
    url = http_server.add("/f", DATA)
    etag = http_server.routes["/f"].etag_value
    status, body, headers = _get(url, {"Range": "bytes=100-", "If-Range": etag})
    assert status == 206 and body == DATA[100:]
    assert headers["Content-Range"] == f"bytes 100-{len(DATA) - 1}/{len(DATA)}"
    status, body, _ = _get(url, {"Range": "bytes=100-", "If-Range": '"other"'})
    assert status == 200 and body == DATA


def test_drop_cuts_the_body_for_the_first_requests_only(http_server: FaultServer) -> None:
    url = http_server.add("/f", DATA, drop_after=1000, drop_times=1)
    with pytest.raises(http.client.IncompleteRead) as err:
        _get(url)
    assert len(err.value.partial) == 1000
    assert _get(url)[1] == DATA
    assert http_server.count("/f") == 2


def test_status_faults_and_counts(http_server: FaultServer) -> None:
    url = http_server.add("/f", DATA, status=500, status_times=1)
    with pytest.raises(urllib.error.HTTPError) as err:
        _get(url)
    assert err.value.code == 500
    assert _get(url)[0] == 200
    with pytest.raises(urllib.error.HTTPError) as err:
        _get(http_server.url("/nothing"))
    assert err.value.code == 404
    assert [r.status for r in http_server.log] == [500, 200, 404]


def test_wrong_bytes_keep_the_length(http_server: FaultServer) -> None:
    body = _get(http_server.add("/f", DATA, wrong_bytes=True))[1]
    assert len(body) == len(DATA) and body != DATA


def test_closed_port_refuses_connections() -> None:
    with pytest.raises(urllib.error.URLError):
        _get(closed_port_url())
