"""moto's S3 server (PyPI moto[server]) on 127.0.0.1 for the upload tests, with IAM
authentication on: every request must carry a valid SigV4 signature from a known access key,
so an upload that succeeds proves libcurl's signing, and wrong credentials are refused as AWS
would refuse them (InvalidAccessKeyId, SignatureDoesNotMatch).

moto checks signatures only once INITIAL_NO_AUTH_ACTION_COUNT requests have passed; it is
set (POST /moto-api/reset-auth) to 0 after the set-up has created an IAM user with an s3:*
policy, its access key and the buckets."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import boto3
from botocore.config import Config

from livesfu_server import ARTIFACTS, free_port

REGION = "us-east-1"


BUCKET = "livesfu-rec"


class MotoS3:
    def __init__(self, buckets):
        self.buckets = list(buckets)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.endpoint = f"127.0.0.1:{self.port}"
        self.proc = None
        self.access_key = self.secret_key = None

    def start(self):
        os.makedirs(ARTIFACTS, exist_ok=True)
        self.log = open(os.path.join(ARTIFACTS, "moto-s3.log"), "wb")
        binary = os.path.join(os.path.dirname(sys.executable), "moto_server")
        self.proc = subprocess.Popen([binary, "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto_server exited with {self.proc.returncode} (see moto-s3.log)")
            try:
                with urllib.request.urlopen(self.url + "/moto-api/data.json", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not answer within 60 s")
                time.sleep(0.2)
        setup = dict(region_name=REGION, aws_access_key_id="setup", aws_secret_access_key="setup")
        iam = boto3.client("iam", endpoint_url=self.url, **setup)
        iam.create_user(UserName="livesfu")
        iam.put_user_policy(UserName="livesfu", PolicyName="s3", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
        key = iam.create_access_key(UserName="livesfu")["AccessKey"]
        self.access_key, self.secret_key = key["AccessKeyId"], key["SecretAccessKey"]
        for bucket in self.buckets:
            self.client().create_bucket(Bucket=bucket)
        # text/plain: a form content type would leave Flask's request.data empty
        request = urllib.request.Request(self.url + "/moto-api/reset-auth", data=b"0", method="POST",
                                         headers={"Content-Type": "text/plain"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert json.load(answer)["status"] == "ok"
        return self

    def client(self):
        """A boto3 S3 client with the user's key (path-style: the endpoint is an IP)."""
        return boto3.client("s3", endpoint_url=self.url, region_name=REGION,
                            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
                            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
