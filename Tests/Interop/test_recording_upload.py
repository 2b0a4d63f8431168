"""Recordings uploaded by livesfu itself (UPLOAD_RECORDINGS) to a real S3-compatible server
(moto, signatures checked): the objects, the sidecar states, retries through a failing proxy,
kill -9 mid-upload then restart, DELETE_RECORDING_AFTER_UPLOAD, and wrong credentials."""

import asyncio
import json
import os
import shutil
import ssl
import subprocess

import pytest

from harness import close_all, eventually, node_slug, room_name, run, start_publisher
from livesfu_server import ARTIFACTS, ServerUnderTest
from recordings import check_video, files_of_room, need_ffmpeg
from s3_fault_proxy import FaultProxy
from s3_moto import BUCKET

PREFIX = "rec/"


def upload_server(name: str, record_dir: str, moto, endpoint: str | None = None, **env) -> ServerUnderTest:
    base = {"RECORD_ENABLED": "true", "RECORD_DIR": record_dir, "UPLOAD_RECORDINGS": "true",
            "S3_ENDPOINT": endpoint or moto.endpoint, "S3_REGION": "us-east-1", "S3_BUCKET": BUCKET,
            "S3_ACCESS_KEY": moto.access_key, "S3_SECRET_KEY": moto.secret_key, "S3_PREFIX": PREFIX,
            "S3_USE_SSL": "false", "S3_PATH_STYLE": "true"}
    server = ServerUnderTest(name, env={**base, **env})
    server.record_dir = record_dir
    return server


def fresh_dir(request, suffix: str = "") -> str:
    path = os.path.join(ARTIFACTS, f"records-{node_slug(request.node.name)}{suffix}")
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


async def publish_for(server, room: str, seconds: float) -> None:
    pub = None
    try:
        pub = await start_publisher(server.base_url, room)
        await asyncio.sleep(seconds)
        await pub.stop()
        pub = None
    finally:
        await close_all(pub)


async def states(server, room: str, want: set[str], timeout: float = 30) -> list[dict]:
    def done():
        files = files_of_room(server.record_dir, room)
        return len(files) == 2 and all(f["state"] in want for f in files)
    await eventually(done, timeout, f"both recordings of {room} in {want}: {files_of_room(server.record_dir, room)}")
    return files_of_room(server.record_dir, room)


def stored(moto, key: str) -> tuple[bytes, str]:
    answer = moto.client().get_object(Bucket=BUCKET, Key=key)
    return answer["Body"].read(), answer["ContentType"]


def test_recordings_are_uploaded_then_deleted_locally_only_after_success(moto, request):
    """Through a proxy that answers 503 to the first PutObjects: both files end uploaded with
    the right keys, bytes and types, and DELETE_RECORDING_AFTER_UPLOAD removed them locally."""
    need_ffmpeg()
    room = room_name(request)
    record_dir = fresh_dir(request)
    proxy = FaultProxy(moto.port, lambda req, seen: 503 if req.operation == "PutObject" and seen < 2 else "forward")
    server = upload_server(node_slug(request.node.name), record_dir, moto, endpoint=proxy.endpoint,
                           DELETE_RECORDING_AFTER_UPLOAD="true").start()
    try:
        async def body():
            await publish_for(server, room, 4)
            return await states(server, room, {"uploaded", "failed"})

        files = run(body(), 60)
        for f in files:
            assert f["state"] == "uploaded" and f["objectKey"] == PREFIX + f["name"], f
            assert f["localFileDeleted"] and not os.path.exists(os.path.join(record_dir, f["name"])), f
            data, content_type = stored(moto, f["objectKey"])
            assert len(data) == f["bytes"], f
            assert content_type == ("video/x-ivf" if f["kind"] == "video" else "audio/ogg"), content_type
            if f["kind"] == "video":
                path = os.path.join(record_dir, "downloaded.ivf")
                with open(path, "wb") as out:
                    out.write(data)
                assert check_video(path, None) == f["frames"]
        assert proxy.actions("PutObject").count(503) == 2, proxy.log
        status, metrics = server.get("/metrics")
        assert status == 200
        text = metrics.decode()
        assert 'livesfu_uploads_total{result="uploaded"} 2' in text, text
        assert "livesfu_upload_retries_total 2" in text and 'livesfu_recordings{state="uploaded"} 2' in text, text
    finally:
        server.stop()
        proxy.stop()


def test_kill_9_mid_upload_then_restart_completes_the_object(moto, request):
    """The first server's uploads cannot get through (every PutObject answered 503); it is
    killed with -9 while they retry. The next start finds them in the sidecars and uploads them."""
    room = room_name(request)
    record_dir = fresh_dir(request)
    proxy = FaultProxy(moto.port, lambda req, seen: 503 if req.operation == "PutObject" else "forward")
    first = upload_server(node_slug(request.node.name), record_dir, moto, endpoint=proxy.endpoint,
                          UPLOAD_MAX_ATTEMPTS="100").start()
    try:
        async def body():
            await publish_for(first, room, 3)
            await states(first, room, {"uploading"})
            await eventually(lambda: proxy.actions("PutObject").count(503) >= 2, 20, "PutObject retried")

        run(body(), 60)
        first.proc.kill()
        first.proc.wait()
        first.exit_code = first.proc.returncode
    finally:
        first.stop(expect_clean=False)
        proxy.stop()
    assert all(f["state"] == "uploading" for f in files_of_room(record_dir, room))
    second = upload_server(node_slug(request.node.name) + "-restart", record_dir, moto).start()
    try:
        async def resumed():
            return await states(second, room, {"uploaded", "failed"})

        for f in run(resumed(), 60):
            assert f["state"] == "uploaded", f
            data, _ = stored(moto, f["objectKey"])
            with open(os.path.join(record_dir, f["name"]), "rb") as local:
                assert data == local.read(), f
    finally:
        assert second.stop() == 0


def test_wrong_credentials_end_failed_with_the_s3_message_and_keep_the_file(moto, request):
    room = room_name(request)
    record_dir = fresh_dir(request)
    server = upload_server(node_slug(request.node.name), record_dir, moto, S3_SECRET_KEY="not-the-secret",
                           DELETE_RECORDING_AFTER_UPLOAD="true").start()
    try:
        async def body():
            await publish_for(server, room, 2)
            return await states(server, room, {"uploaded", "failed"})

        for f in run(body(), 60):
            assert f["state"] == "failed", f
            assert "SignatureDoesNotMatch" in f["error"], f
            assert not f["localFileDeleted"] and os.path.getsize(os.path.join(record_dir, f["name"])) == f["bytes"], f
        assert "SignatureDoesNotMatch" in server.log_tail(100)
        status, body = server.get(f"/api/records?room={room}")
        listed = json.loads(body)["records"]
        assert status == 200 and len(listed) == 2, body
        assert all(r["state"] == "failed" and "SignatureDoesNotMatch" in r["error"] for r in listed), listed
    finally:
        assert server.stop() == 0


def self_signed_certificate(folder: str) -> tuple[str, str]:
    """A certificate for 127.0.0.1 (subjectAltName IP), made with Debian's openssl."""
    cert, key = os.path.join(folder, "s3-cert.pem"), os.path.join(folder, "s3-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


def test_https_endpoint_with_s3_ca_file(moto, request):
    """A self-hosted HTTPS endpoint with its own CA: S3_CA_FILE makes the upload work; without
    it the certificate is refused (failed, the reason in the sidecar)."""
    record_dir = fresh_dir(request)
    cert, key = self_signed_certificate(record_dir)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    proxy = FaultProxy(moto.port, lambda req, seen: "forward", tls=tls)
    try:
        for with_ca, room in ((True, room_name(request) + "-ca"), (False, room_name(request) + "-noca")):
            env = {"S3_USE_SSL": "true", "UPLOAD_MAX_ATTEMPTS": "1", **({"S3_CA_FILE": cert} if with_ca else {})}
            server = upload_server(f"{node_slug(request.node.name)}-{with_ca}", record_dir, moto,
                                   endpoint=proxy.endpoint, **env).start()
            try:
                files = run(publish_then(server, room), 60)
            finally:
                assert server.stop() == 0
            for f in files:
                if with_ca:
                    assert f["state"] == "uploaded", f
                    assert len(stored(moto, f["objectKey"])[0]) == f["bytes"], f
                else:
                    assert f["state"] == "failed" and "certificate" in f["error"].lower(), f
    finally:
        proxy.stop()


async def publish_then(server, room: str) -> list[dict]:
    await publish_for(server, room, 2)
    return await states(server, room, {"uploaded", "failed"})
