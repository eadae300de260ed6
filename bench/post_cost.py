"""Where the CPU of one acknowledged upload goes: POST /upload of a 50 KB file run
in this process through Django's WSGI handler, whole and with one step at a time
left out, so the difference is that step's cost.

    .venv/bin/python bench/post_cost.py               # 600 uploads per variant, 3 rounds
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_imgbed \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/14 .venv/bin/python bench/post_cost.py

Only this process's CPU is counted (process_time): the database and broker
servers' own work comes on top. The variants run alternately, a round each,
and the median per variant is printed. The steps left out are stubbed here only:
the row insert (a stand-in row is answered), the broker publish, and the
channel query (its first answer reused).
"""

import argparse
import io
import sys
import time
import warnings
from contextlib import ExitStack, contextmanager
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h  # noqa: E402

BOUNDARY = "bench-boundary"


def multipart(data: bytes) -> bytes:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="bench.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--uploads", type=int, default=600, help="uploads per variant and round (default 600)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--size", type=int, default=50_000, help="bytes per file (default 50000)")
    h.add_common_arguments(parser)
    args = parser.parse_args()

    # whitenoise notes the static folder collectstatic never filled: nothing is served from it here.
    warnings.filterwarnings("ignore", message="No directory at")
    with h.stack_from(args, "post_cost") as stack:
        stack.start()
        from django.core.handlers.wsgi import WSGIHandler

        from uploads import channel_choice, tasks
        from uploads.models import StoredFile

        app = WSGIHandler()

        def post(body: bytes):
            environ = {
                "REQUEST_METHOD": "POST",
                "PATH_INFO": "/upload",
                "QUERY_STRING": "",
                "SERVER_NAME": "127.0.0.1",
                "SERVER_PORT": "80",
                "HTTP_HOST": "127.0.0.1",
                "REMOTE_ADDR": "127.0.0.1",
                "CONTENT_TYPE": f"multipart/form-data; boundary={BOUNDARY}",
                "CONTENT_LENGTH": str(len(body)),
                "wsgi.input": io.BytesIO(body),
                "wsgi.url_scheme": "http",
                "wsgi.errors": sys.stderr,
            }
            status = []
            response = app(environ, lambda s, headers, exc_info=None: status.append(s))
            b"".join(response)
            response.close()
            if not status[0].startswith("200"):
                raise RuntimeError(f"POST /upload answered {status[0]}")

        class StandIn:
            pk = 0
            url_path = "/file/stand-in"

        @contextmanager
        def without(*steps):
            with ExitStack() as stubs:
                if "publish" in steps:
                    stubs.enter_context(mock.patch.object(tasks.upload_to_channel, "delay", lambda *a: None))
                if "insert" in steps:
                    stubs.enter_context(
                        mock.patch.object(StoredFile.objects, "create", lambda **kw: StandIn())
                    )
                if "channel query" in steps:
                    first = channel_choice.candidates()
                    stubs.enter_context(mock.patch.object(channel_choice, "candidates", lambda: first))
                yield

        variants = {
            "whole POST /upload": (),
            "  without the broker publish": ("publish",),
            "  ... and the row insert": ("publish", "insert"),
            "  ... and the channel query": ("publish", "insert", "channel query"),
        }
        for body in [multipart(h.png_bytes(args.size)) for _ in range(50)]:  # warm-up
            post(body)
        figures = {name: [] for name in variants}
        for _ in range(args.rounds):
            for name, steps in variants.items():
                bodies = [multipart(h.png_bytes(args.size)) for _ in range(args.uploads)]
                with without(*steps):
                    started = time.process_time()
                    for body in bodies:
                        post(body)
                    figures[name].append((time.process_time() - started) / args.uploads * 1000)

        print(
            f"post_cost: {args.uploads} uploads of {args.size / 1000:g} KB x {args.rounds} rounds per variant"
        )
        print(f"  {stack.describe()}; in this process, no gunicorn, no client")
        print(f"\n  {'variant':<34} {'CPU ms/upload':>13}  {'step':>7}")
        previous = None
        for name, runs in figures.items():
            value = h.median(runs)
            step = f"{previous - value:7.2f}" if previous is not None else ""
            print(f"  {name:<34} {value:>13.2f}  {step}")
            previous = value
        print("\n  step: the CPU the step left out costs, per upload (the last line is the rest: multipart")
        print("  parsing, staging the file, hashing, sniffing, naming, middleware, the JSON answer)")


if __name__ == "__main__":
    main()
