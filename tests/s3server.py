"""Real S3 servers (moto in server mode) on loopback, each in its own process, for the session.

moto keeps its buckets and its settings per process, so the two servers are two processes:

- `s3_server` accepts any access key, as moto does unless told otherwise. It holds a
  private bucket and a public one (a bucket policy lets anyone read it, as an R2 public
  bucket or a CDN's origin does).
- `s3_auth_server` checks every request's signature against its IAM access keys (moto's
  IAM authentication, switched on through its /moto-api/reset-auth once the users exist):
  a writer that may do anything in its bucket, and a reader that may only read. moto
  cannot serve presigned URLs with authentication on (it expects an Authorization
  header), so only the tests of credentials use this one.

Run by the fixtures as `python -m tests.s3server`; it prints the port it listens on once
it listens, and serves until SIGTERM. `--host ADDRESS` listens there instead of on loopback
(the three-hosts test runs it on its own network).
"""

import json
import selectors
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
BUCKET = "imgbed-test"
PUBLIC_BUCKET = "imgbed-public"
# moto takes any key until authentication is on; these stand for a channel's.
ACCESS_KEY_ID = "IMGBEDTESTACCESSKEY1"
SECRET_ACCESS_KEY = "imgbed/test+secret-0123456789abcdefghijKLMN"


@dataclass
class S3Server:
    url: str
    access_key_id: str = ACCESS_KEY_ID
    secret_access_key: str = SECRET_ACCESS_KEY
    bucket: str = BUCKET
    public_bucket: str = PUBLIC_BUCKET
    region: str = REGION
    # Only on the server that checks credentials: a key that may read but not write.
    reader_key_id: str = ""
    reader_secret: str = ""

    def client(self, access_key_id=None, secret_access_key=None):
        """A boto3 client of its own, to look at the buckets as a person would."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name=self.region,
            aws_access_key_id=access_key_id or self.access_key_id,
            aws_secret_access_key=secret_access_key or self.secret_access_key,
            config=Config(s3={"addressing_style": "path"}, request_checksum_calculation="when_required"),
        )


class _Process:
    """`python -m tests.s3server` with its log in a file; the port it prints is waited for, not polled."""

    def __init__(self, log_path: Path, timeout=30):
        self.log_path = log_path
        with open(log_path, "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.s3server"],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=log,
                start_new_session=True,
                text=True,
            )
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            ready = selector.select(timeout)
        line = self.process.stdout.readline() if ready else ""
        if not line.startswith("port "):
            self.stop()
            raise RuntimeError(f"the S3 server did not start in {timeout}s:\n{log_path.read_text()}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process.stdout.close()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    process = _Process(tmp_path_factory.mktemp("s3") / "server.log")
    try:
        server = S3Server(url=process.url)
        client = server.client()
        client.create_bucket(Bucket=server.bucket)
        client.create_bucket(Bucket=server.public_bucket)
        client.put_bucket_policy(
            Bucket=server.public_bucket,
            Policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": "*",
                            "Action": "s3:GetObject",
                            "Resource": f"arn:aws:s3:::{server.public_bucket}/*",
                        }
                    ],
                }
            ),
        )
        yield server
    finally:
        process.stop()


@pytest.fixture(scope="session")
def s3_auth_server(tmp_path_factory):
    import boto3
    import requests

    process = _Process(tmp_path_factory.mktemp("s3-auth") / "server.log")
    try:
        iam = boto3.client(
            "iam",
            endpoint_url=process.url,
            region_name=REGION,
            aws_access_key_id="setup",
            aws_secret_access_key="setup",
        )
        keys = {}
        for user, actions in (
            ("imgbed-writer", ["s3:*"]),
            ("imgbed-reader", ["s3:GetObject", "s3:ListBucket"]),
        ):
            iam.create_user(UserName=user)
            iam.put_user_policy(
                UserName=user,
                PolicyName="imgbed",
                PolicyDocument=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": actions,
                                "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
                            }
                        ],
                    }
                ),
            )
            key = iam.create_access_key(UserName=user)["AccessKey"]
            keys[user] = (key["AccessKeyId"], key["SecretAccessKey"])
        setup = S3Server(url=process.url)
        setup.client().create_bucket(Bucket=BUCKET)
        # From now on every request must be signed with one of the IAM keys above.
        answer = requests.post(f"{process.url}/moto-api/reset-auth", data=b"0", timeout=10)
        answer.raise_for_status()
        (writer_id, writer_secret), (reader_id, reader_secret) = keys["imgbed-writer"], keys["imgbed-reader"]
        yield S3Server(
            url=process.url,
            access_key_id=writer_id,
            secret_access_key=writer_secret,
            reader_key_id=reader_id,
            reader_secret=reader_secret,
        )
    finally:
        process.stop()


def serve(host="127.0.0.1"):
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=host, port=0, verbose=False)
    server.start()  # returns once it listens
    print(f"port {server.get_host_and_port()[1]}", flush=True)
    sys.stdout = sys.stderr  # nothing else goes to the pipe the fixture read the port from
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        signal.pause()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tests.s3server")
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on")
    serve(parser.parse_args().host)
