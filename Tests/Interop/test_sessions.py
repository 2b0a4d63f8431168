"""Session resources over plain HTTP against the real server (RFC 9725): PATCH for trickle
and ICE restart with its ETag preconditions, DELETE, and MAX_SUBS_PER_ROOM never exceeded
under concurrent joins. The offers are the browsers' own (../shared/fixtures/sdp)."""
import concurrent.futures
import os
import urllib.error
import urllib.request

import pytest

from livesfu_server import using_standin

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(os.path.dirname(REPO), "shared", "fixtures", "sdp")
pytestmark = pytest.mark.skipif(using_standin(), reason="checks livesfu's session resources")


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return f.read()


def request(method, url, body=None, headers=None):
    req = urllib.request.Request(url, data=body.encode() if body is not None else None, method=method,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def publish(sfu, room):
    status, headers, answer = request("POST", f"{sfu.base_url}/api/whip/publish/{room}", fixture("chromium-offer.sdp"),
                                      {"Content-Type": "application/sdp"})
    assert status == 201, (status, answer)
    return sfu.base_url + headers["Location"], headers["ETag"], answer


FRAG = "application/trickle-ice-sdpfrag"


def test_patch_trickle_restart_and_preconditions(sfu):
    location, etag, _ = publish(sfu, "patchroom")
    trickle = "a=ice-ufrag:{ufrag}\r\na=ice-pwd:{pwd}\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n" \
              "a=candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host\r\n"
    offer = fixture("chromium-offer.sdp")
    ufrag = next(l.split(":", 1)[1] for l in offer.splitlines() if l.startswith("a=ice-ufrag:"))
    pwd = next(l.split(":", 1)[1] for l in offer.splitlines() if l.startswith("a=ice-pwd:"))
    # Trickle with the same credentials: 204.
    status, _, _ = request("PATCH", location, trickle.format(ufrag=ufrag, pwd=pwd), {"Content-Type": FRAG, "If-Match": etag})
    assert status == 204
    # Wrong content type: 415.
    status, _, _ = request("PATCH", location, "x", {"Content-Type": "text/plain"})
    assert status == 415
    restart = trickle.format(ufrag="newU", pwd="newpassword0123456789012")
    # ICE restart without If-Match: 428; with a stale ETag: 412.
    assert request("PATCH", location, restart, {"Content-Type": FRAG})[0] == 428
    assert request("PATCH", location, restart, {"Content-Type": FRAG, "If-Match": '"stale"'})[0] == 412
    # With the ETag: 200, new credentials and a new ETag.
    status, headers, body = request("PATCH", location, restart, {"Content-Type": FRAG, "If-Match": etag})
    assert status == 200, body
    assert headers["ETag"] != etag
    assert "a=ice-ufrag:" in body and "a=ice-pwd:" in body and "a=candidate:" in body
    assert f"a=ice-ufrag:{ufrag}" not in body
    # DELETE ends it; a PATCH after that finds nothing.
    assert request("DELETE", location)[0] == 200
    assert request("PATCH", location, restart, {"Content-Type": FRAG, "If-Match": "*"})[0] == 404
    assert "patchroom" not in sfu.rooms()


@pytest.mark.parametrize("sfu", [{"MAX_SUBS_PER_ROOM": "3"}], indirect=True)
def test_max_subscribers_is_never_exceeded_under_concurrent_joins(sfu):
    offer = fixture("chromium-whep-offer.sdp")

    def join(_):
        return request("POST", f"{sfu.base_url}/api/whep/play/full", offer, {"Content-Type": "application/sdp"})

    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(join, range(12)))
    statuses = sorted(r[0] for r in results)
    # None of these offers ever connects: viewers in set-up are admitted up to the limit plus
    # the set-up allowance, max(2, 10 %) = 2; connected viewers could never pass 3.
    assert statuses.count(201) == 5, statuses
    assert statuses.count(503) == 7, statuses
    refused = next(r for r in results if r[0] == 503)
    assert "full" in refused[2], refused
    assert sfu.rooms()["full"]["viewers"] == 5
