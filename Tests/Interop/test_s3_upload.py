"""Uploads to a real S3 server: moto's server mode (PyPI), with signature checking on, driven
through `livesfu-s3` (the S3 library's UploadQueue and S3Client, as livesfu uses them), and a
fault-injecting proxy in front of moto for 503/429 answers and connections cut mid-part.

What the recorder adds on top (sidecar states, kill -9 and restart, deleting after upload,
/api/records) is tested where it is wired, not here."""

import hashlib
import json
import os
import subprocess

import pytest

from livesfu_server import REPO
from s3_fault_proxy import FaultProxy
from s3_moto import BUCKET

MIB = 1 << 20
# Fast back-off for the tests (the defaults are 500 ms doubling to 30 s).
FAST_RETRY = ["--retry-base-ms", "20", "--retry-cap-ms", "100"]


def tool_path():
    path = os.environ.get("LIVESFU_S3_BIN", os.path.join(REPO, ".build", "debug", "livesfu-s3"))
    if not os.path.exists(path):
        pytest.fail(f"{path} not found (swift build, or set LIVESFU_S3_BIN)", pytrace=False)
    return path


def make_file(tmp_path, name, size, seed=0):
    data = hashlib.shake_256(f"{name}-{seed}".encode()).digest(size)
    path = tmp_path / name
    path.write_bytes(data)
    return str(path), data


class Outcome:
    def __init__(self, proc):
        self.returncode = proc.returncode
        self.stderr = proc.stderr
        self.events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]

    def of(self, kind):
        return [e for e in self.events if e["event"] == kind]

    def __repr__(self):
        return f"exit {self.returncode}, events {self.events}, stderr {self.stderr!r}"


def upload(moto, jobs, endpoint=None, path_style=True, access_key=None, secret_key=None, prefix="",
           extra=(), max_attempts=5, concurrency=2, timeout=60):
    env = dict(os.environ,
               S3_ENDPOINT=endpoint or moto.endpoint, S3_REGION="us-east-1", S3_BUCKET=BUCKET,
               S3_ACCESS_KEY=access_key or moto.access_key, S3_SECRET_KEY=secret_key or moto.secret_key,
               S3_PREFIX=prefix, S3_USE_SSL="false", S3_PATH_STYLE="true" if path_style else "false",
               UPLOAD_MAX_ATTEMPTS=str(max_attempts), UPLOAD_CONCURRENCY=str(concurrency))
    args = [tool_path(), *FAST_RETRY, *extra]
    for path, key, content_type in jobs:
        args += [path, key, content_type]
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)
    return Outcome(proc)


def stored(moto, key):
    answer = moto.client().get_object(Bucket=BUCKET, Key=key)
    return answer["Body"].read(), answer["ContentType"], answer["ETag"]


def pending_uploads(moto):
    return moto.client().list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])


def test_small_files_by_put_object_with_prefix_and_content_type(moto, tmp_path):
    ogg, ogg_data = make_file(tmp_path, "room_t1.ogg", 300_000)
    ivf, ivf_data = make_file(tmp_path, "room_t2.ivf", 1)
    odd_key = "späce & plus+/equals=(1)~.ivf"
    out = upload(moto, [(ogg, "room_t1_1700000000.ogg", "audio/ogg"), (ivf, odd_key, "video/x-ivf")], prefix="rec/2024/")
    assert out.returncode == 0, out
    assert not out.of("retrying") and len(out.of("uploaded")) == 2, out
    assert stored(moto, "rec/2024/room_t1_1700000000.ogg")[:2] == (ogg_data, "audio/ogg")
    data, content_type, etag = stored(moto, "rec/2024/" + odd_key)
    assert (data, content_type) == (ivf_data, "video/x-ivf")
    by_key = {e["key"]: e for e in out.of("uploaded")}
    assert by_key["rec/2024/" + odd_key]["size"] == 1 and by_key["rec/2024/" + odd_key]["etag"] == etag
    assert out.of("counters")[0]["uploaded"] == 2


def test_large_file_by_multipart(moto, tmp_path):
    path, data = make_file(tmp_path, "big.ivf", 20 * MIB + 12345)
    out = upload(moto, [(path, "big.ivf", "video/x-ivf")])
    assert out.returncode == 0, out
    got, content_type, etag = stored(moto, "big.ivf")
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest() and content_type == "video/x-ivf"
    assert etag.endswith('-3"'), etag  # 8 + 8 + 4 MiB parts
    assert out.of("uploaded")[0]["size"] == len(data)
    assert not pending_uploads(moto)


def test_virtual_hosted_style(moto, tmp_path):
    # libcurl resolves every *.localhost name to the loopback address itself (RFC 6761), so
    # `livesfu-rec.localhost:PORT` reaches moto with no DNS or hosts entry, and moto takes
    # the bucket from the Host header's first label.
    small, small_data = make_file(tmp_path, "v.ogg", 4096)
    big, big_data = make_file(tmp_path, "v.ivf", 17 * MIB)
    out = upload(moto, [(small, "vhost/v.ogg", "audio/ogg"), (big, "vhost/v.ivf", "video/x-ivf")],
                 endpoint=f"localhost:{moto.port}", path_style=False)
    assert out.returncode == 0, out
    assert stored(moto, "vhost/v.ogg")[0] == small_data
    assert stored(moto, "vhost/v.ivf")[0] == big_data


def test_503_and_429_are_retried_until_the_objects_are_complete(moto, tmp_path):
    def rule(request, seen):
        if request.operation == "PutObject" and seen < 2:
            return 503
        if request.operation == "CreateMultipartUpload" and seen < 1:
            return 429
        if request.operation == "UploadPart" and request.part == 2 and seen < 2:
            return 503 if seen == 0 else 429
        if request.operation == "CompleteMultipartUpload" and seen < 1:
            return 500
        return "forward"

    proxy = FaultProxy(moto.port, rule)
    try:
        small, small_data = make_file(tmp_path, "r.ogg", 50_000)
        big, big_data = make_file(tmp_path, "r.ivf", 17 * MIB)
        out = upload(moto, [(small, "retry/r.ogg", "audio/ogg"), (big, "retry/r.ivf", "video/x-ivf")],
                     endpoint=proxy.endpoint)
    finally:
        proxy.stop()
    assert out.returncode == 0, out
    assert stored(moto, "retry/r.ogg")[0] == small_data
    assert stored(moto, "retry/r.ivf")[0] == big_data
    retried = sorted((e["operation"], e["attempt"]) for e in out.of("retrying"))
    assert retried == [("CompleteMultipartUpload", 1), ("CreateMultipartUpload", 1), ("PutObject", 1), ("PutObject", 2),
                       ("UploadPart 2", 1), ("UploadPart 2", 2)], out
    reasons = " ".join(e["reason"] for e in out.of("retrying"))
    assert "HTTP 503 SlowDown: Please reduce your request rate." in reasons and "HTTP 429 TooManyRequests" in reasons
    assert out.of("counters")[0]["retries"] == 6
    assert not pending_uploads(moto)


def test_connection_cut_mid_part_is_resent(moto, tmp_path):
    def rule(request, seen):
        return "cut" if request.operation == "UploadPart" and request.part == 2 and seen == 0 else "forward"

    proxy = FaultProxy(moto.port, rule)
    try:
        path, data = make_file(tmp_path, "cut.ivf", 20 * MIB)
        out = upload(moto, [(path, "cut/cut.ivf", "video/x-ivf")], endpoint=proxy.endpoint)
    finally:
        proxy.stop()
    assert out.returncode == 0, out
    assert proxy.actions("UploadPart").count("cut") == 1
    assert [e["operation"] for e in out.of("retrying")] == ["UploadPart 2"], out
    assert "curl error" in out.of("retrying")[0]["reason"]
    got = stored(moto, "cut/cut.ivf")[0]
    assert len(got) == len(data) and got == data
    assert not pending_uploads(moto)


def test_lost_answer_to_complete_multipart_upload_is_confirmed_by_head_object(moto, tmp_path):
    # The first CompleteMultipartUpload reaches moto and completes the object, but its answer
    # is lost. moto (like AWS, mostly) answers a repeated Complete with 200; services that
    # forget the upload at once answer 404 NoSuchUpload, which the proxy plays here: the
    # client must then let HeadObject confirm the whole object rather than fail.
    def rule(request, seen):
        if request.operation == "CompleteMultipartUpload":
            return "drop-response" if seen == 0 else 404
        return "forward"

    proxy = FaultProxy(moto.port, rule)
    try:
        path, data = make_file(tmp_path, "lost.ivf", 17 * MIB)
        out = upload(moto, [(path, "lost/lost.ivf", "video/x-ivf")], endpoint=proxy.endpoint)
    finally:
        proxy.stop()
    assert out.returncode == 0, out
    assert proxy.actions("CompleteMultipartUpload") == ["drop-response", 404]
    assert [e["operation"] for e in out.of("retrying")] == ["CompleteMultipartUpload"], out
    assert out.of("uploaded")[0]["size"] == len(data) and stored(moto, "lost/lost.ivf")[0] == data


@pytest.mark.parametrize("which", ["secret", "access-key"])
def test_wrong_credentials_fail_with_the_s3_error_and_no_retry(moto, tmp_path, which):
    path, _ = make_file(tmp_path, "denied.ogg", 1000)
    if which == "secret":
        out = upload(moto, [(path, "denied.ogg", "audio/ogg")], secret_key="not-the-secret")
        code, text = "SignatureDoesNotMatch", "The request signature we calculated does not match"
    else:
        out = upload(moto, [(path, "denied.ogg", "audio/ogg")], access_key="AKIANOTAKEY0000000000")
        code, text = "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."
    assert out.returncode == 1, out
    failed = out.of("failed")
    assert len(failed) == 1 and failed[0]["code"] == code and text in failed[0]["message"], out
    assert failed[0]["message"].startswith("PutObject: HTTP 403 " + code)
    assert not out.of("retrying") and not out.of("uploaded")
    assert os.path.exists(path)
    keys = [o["Key"] for o in moto.client().list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert "denied.ogg" not in keys


def test_multipart_upload_that_fails_for_good_is_aborted(moto, tmp_path):
    proxy = FaultProxy(moto.port, lambda r, seen: 503 if r.operation == "UploadPart" and r.part == 2 else "forward")
    try:
        path, _ = make_file(tmp_path, "doomed.ivf", 17 * MIB)
        out = upload(moto, [(path, "doomed/doomed.ivf", "video/x-ivf")], endpoint=proxy.endpoint, max_attempts=3)
    finally:
        proxy.stop()
    assert out.returncode == 1, out
    failed = out.of("failed")
    assert len(failed) == 1 and failed[0]["message"].startswith("UploadPart 2: HTTP 503 SlowDown"), out
    assert [e["attempt"] for e in out.of("retrying")] == [1, 2]
    assert proxy.actions("UploadPart").count(503) == 3
    assert proxy.actions("AbortMultipartUpload") == ["forward"]
    assert not [u for u in pending_uploads(moto) if u["Key"] == "doomed/doomed.ivf"]
    keys = [o["Key"] for o in moto.client().list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert "doomed/doomed.ivf" not in keys
