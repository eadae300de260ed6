"""The small-file pipeline per channel kind, in one run: local folder, OneDrive
(the Graph emulator), S3 (moto in server mode) and WebDAV (WsgiDAV).

    .venv/bin/python bench/kinds.py                          # 200 files of 50 KB per kind and round
    .venv/bin/python bench/kinds.py --files 100 --kinds local,s3 --rounds 5

One set of processes serves every kind: gunicorn (3 sync workers), one Celery worker (prefork, concurrency 2), the emulator,
and the S3 and WebDAV servers the tests use (`python -m tests.s3server`,
`python -m tests.webdavserver ROOT`), each in its own process. Each kind in
turn is made the only enabled channel; then, after a few warm-up files that
are not counted:
  1. end to end: N new files POSTed from --clients threads with the worker
     running; files per second from the first POST until every row is
     stored, and the p50/p99 latency of POST /upload;
  2. serving: GET /file/<id> of those stored files (each --get-rounds times)
     from --get-clients threads, every body read; requests per second and
     p50/p99. The channel serves by proxy (the site streams the bytes); an S3
     channel is then also measured serving by redirect to a presigned URL,
     counting the 302 only.
All kinds are measured --rounds times (default 3), each round starting one
kind later; the figures are medians over the rounds (latency percentiles over
all of them), since other work on a small machine moves any one round's. The
end-to-end rate of each kind is given as a ratio to the local kind's in the
same round (the baseline), the median of those; and CPU per file of the worker
(main + pool) and of the kind's storage server, so a slow kind shows where its
time goes. The loopback servers are test servers: their CPU is on the same
cores as the site's, which a real bucket or Graph does not cost.
"""

import argparse
import hashlib
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h  # noqa: E402

KINDS = ("local", "onedrive", "s3", "webdav")
SERVER = {"onedrive": "emulator", "s3": "moto", "webdav": "WsgiDAV"}


def parse_kinds(text: str) -> list[str]:
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown or not kinds:
        raise SystemExit(f"--kinds: use some of {','.join(KINDS)}, not {text!r}")
    return list(dict.fromkeys(kinds))


def make_channels(stack, kinds, s3, dav):
    """One channel row per kind, all disabled; {kind: channel}. OneDrive's is the stack's own."""
    from channels.models import Channel
    from channels.webdav.models import WebDAVChannel, WebDAVSettings
    from tests.channels import local_channel, s3_channel

    connected = {"health": Channel.Health.CONNECTED, "enabled": False}
    rows = {"onedrive": stack.channel}
    if "local" in kinds:
        rows["local"] = local_channel(stack.tmp / "local", name="Bench local", **connected)
    if s3 is not None:
        rows["s3"] = s3_channel(s3, name="Bench S3", **connected)
    if dav is not None:
        rows["webdav"] = WebDAVChannel.objects.create(
            name="Bench WebDAV", root_directory=f"r-{uuid.uuid4().hex[:8]}", **connected
        )
        WebDAVSettings.objects.create(
            channel=rows["webdav"], base_url=dav.files_url, username=dav.user, password=dav.password
        )
    Channel.objects.update(enabled=False)
    return rows


def only_enabled(channel):
    from channels.models import Channel

    Channel.objects.exclude(pk=channel.pk).update(enabled=False)
    Channel.objects.filter(pk=channel.pk).update(enabled=True, serve_mode="proxy")


def set_serve_mode(channel, mode):
    from channels.models import Channel

    Channel.objects.filter(pk=channel.pk).update(serve_mode=mode)


def stored_times(stack, ids) -> float:
    """Monotonic time at which the last of `ids` was seen stored."""
    return max(stack.wait_stored(ids, timeout=900, interval=0.02).values())


def check_rows(ids, channel):
    """Every file went to `channel`, or the figures would be some other kind's."""
    from uploads.models import StoredFile

    elsewhere = StoredFile.objects.filter(public_id__in=list(ids)).exclude(channel_id=channel.pk).count()
    if elsewhere:
        raise RuntimeError(f"{elsewhere} of {len(ids)} files were stored on another channel than {channel}")


def sizes_and_digests(ids) -> dict:
    from uploads.models import StoredFile

    return {
        f"/file/{public_id}": (size, sha256)
        for public_id, size, sha256 in StoredFile.objects.filter(public_id__in=list(ids)).values_list(
            "public_id", "size", "sha256"
        )
    }


def serve(web, paths, clients, expected, mode):
    """GETs of `paths` in one serving mode; checks every answer (the bytes, or a 302 with a Location)."""
    if mode == "proxy":

        def check(path, response):
            size, digest = expected[path]
            if len(response.content) != size or hashlib.sha256(response.content).hexdigest() != digest:
                return f"{path}: {len(response.content)} bytes, not the {size} stored"
            return None

        return h.run_gets(web.url, paths, clients, expect=(200,), check=check)

    def check_redirect(path, response):
        return None if response.headers.get("Location") else f"{path}: a 302 without a Location"

    return h.run_gets(web.url, paths, clients, expect=(302,), check=check_redirect)


def follow_one(web, path, expected, verify=True):
    """One redirect followed to its presigned URL: the bucket gives the stored bytes.
    `verify`: the CA file of an HTTPS server redirected to (the Graph emulator's)."""
    with h.client() as http:
        http.verify = verify
        response = http.get(web.url + path, timeout=60)
    size, digest = expected[path]
    if response.status_code != 200 or hashlib.sha256(response.content).hexdigest() != digest:
        raise RuntimeError(f"following {path}'s redirect gave {response.status_code}, not its {size} bytes")


def measure(stack, web, worker, kind, channel, server_pid, args):
    only_enabled(channel)
    procs = {"worker": worker.pid, "web": web.pid}
    if server_pid:
        procs["server"] = server_pid

    # Warm-up, not counted: every gunicorn worker and pool process has this kind's client,
    # connection or token, and the channel's folders exist.
    warm = h.run_load(web.url, [h.png_bytes(args.size) for _ in range(4 * args.web_workers)], args.clients)
    stored_times(stack, warm["ids"])
    check_rows(warm["ids"], channel)
    warm_expected = sizes_and_digests(warm["ids"])
    modes = ["proxy", "redirect"] if kind == "s3" else ["proxy"]
    for mode in modes:
        set_serve_mode(channel, mode)
        serve(web, list(warm_expected), args.get_clients, warm_expected, mode)
    set_serve_mode(channel, "proxy")

    # 1. End to end.
    payloads = [h.png_bytes(args.size) for _ in range(args.files)]
    cpu = {name: h.cpu_seconds(pid) for name, pid in procs.items()}
    load = h.run_load(web.url, payloads, args.clients)
    done = stored_times(stack, load["ids"])
    cpu = {name: h.cpu_seconds(pid) - cpu[name] for name, pid in procs.items()}
    check_rows(load["ids"], channel)
    result = {
        "count": args.files,
        "seconds": done - load["first"],
        "latencies": load["latencies"],
        "worker_cpu": cpu["worker"],
        "server_cpu": cpu.get("server"),
        "serving": {},
    }

    # 2. Serving the stored files.
    expected = sizes_and_digests(load["ids"])
    paths = list(expected) * args.get_rounds
    for mode in modes:
        set_serve_mode(channel, mode)
        cpu = {name: h.cpu_seconds(pid) for name, pid in procs.items()}
        got = serve(web, paths, args.get_clients, expected, mode)
        cpu = {name: h.cpu_seconds(pid) - cpu[name] for name, pid in procs.items()}
        if mode == "redirect":
            follow_one(web, paths[0], expected)
        result["serving"][mode] = {
            "count": got["count"],
            "seconds": got["seconds"],
            "latencies": got["latencies"],
            "web_cpu": cpu["web"],
            "server_cpu": cpu.get("server"),
        }
    set_serve_mode(channel, "proxy")
    return result


def load_average() -> str:
    """Other work on the machine shares its cores with every process measured here."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def ms(seconds) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f}"


def summary(runs):
    """One kind's (or one serving mode's) rounds: the median rate, the percentiles of all
    latencies together, CPU per file or request over all rounds."""
    count = sum(r["count"] for r in runs)
    rates = [r["count"] / r["seconds"] for r in runs]
    latencies = sorted(x for r in runs for x in r["latencies"])
    servers = [r["server_cpu"] for r in runs]
    return {
        "rate": h.median(rates),
        "rates": rates,
        "seconds": h.median([r["seconds"] for r in runs]),
        "p50": h.percentile(latencies, 50),
        "p99": h.percentile(latencies, 99),
        "server_cpu": None if None in servers else sum(servers) / count,
        "worker_cpu": sum(r.get("worker_cpu", 0) for r in runs) / count,
        "web_cpu": sum(r.get("web_cpu", 0) for r in runs) / count,
    }


def e2e_rate(result) -> float:
    return result["count"] / result["seconds"]


def serve_rate(result, mode="proxy") -> float:
    return result["serving"][mode]["count"] / result["serving"][mode]["seconds"]


def ratio_to_local(rounds, rate_of) -> str:
    """The median over rounds of rate_of(round): a kind's rate over the local kind's in the same
    round, so each kind is set against the baseline measured beside it."""
    if "local" not in rounds[0]:
        return "-"
    return f"{h.median([rate_of(r) for r in rounds]):.2f}x"


def spread(rates) -> str:
    return f"{min(rates):.0f}-{max(rates):.0f}" if len(rates) > 1 else ""


def report(kinds, rounds, args):
    """`rounds`: one {kind: result} per round."""
    per_round = "" if len(rounds) == 1 else f"; median of {len(rounds)} rounds, min-max per round"
    print(
        f"\n  1. end to end: {args.files} files of {args.size / 1000:g} KB per kind and round, "
        f"{args.clients} client threads{per_round}"
    )
    print(
        f"  {'kind':<20} {'seconds':>8} {'files/s':>8} {'min-max':>8} {'vs local':>9} {'POST p50':>9}"
        f" {'p99 ms':>7} {'worker CPU':>11} {'server CPU':>11}"
    )
    for kind in kinds:
        s = summary([r[kind] for r in rounds])
        label = kind if kind not in SERVER else f"{kind} ({SERVER[kind]})"
        ratio = ratio_to_local(rounds, lambda r, k=kind: e2e_rate(r[k]) / e2e_rate(r["local"]))
        print(
            f"  {label:<20} {s['seconds']:>8.2f} {s['rate']:>8.1f} {spread(s['rates']):>8} {ratio:>9}"
            f" {ms(s['p50']):>9} {ms(s['p99']):>7} {ms(s['worker_cpu']):>11} {ms(s['server_cpu']):>11}"
        )
    print("  (CPU columns: ms per file, the Celery worker's main and pool processes, and the kind's server)")

    print(
        f"\n  2. serving: GET /file/<id>, each stored file {args.get_rounds}x, "
        f"{args.get_clients} client threads{per_round}"
    )
    print(
        f"  {'kind, mode':<28} {'requests':>8} {'req/s':>8} {'min-max':>8} {'vs local':>9} {'p50 ms':>7}"
        f" {'p99 ms':>7} {'web CPU':>8} {'server CPU':>11}"
    )
    for kind in kinds:
        for mode in rounds[0][kind]["serving"]:
            runs = [r[kind]["serving"][mode] for r in rounds]
            s = summary(runs)
            label = f"{kind}, {mode}" + (" (302 only)" if mode == "redirect" else "")
            ratio = ratio_to_local(
                rounds, lambda r, k=kind, m=mode: serve_rate(r[k], m) / serve_rate(r["local"])
            )
            print(
                f"  {label:<28} {sum(x['count'] for x in runs):>8} {s['rate']:>8.1f} {spread(s['rates']):>8}"
                f" {ratio:>9} {ms(s['p50']):>7} {ms(s['p99']):>7} {ms(s['web_cpu']):>8}"
                f" {ms(s['server_cpu']):>11}"
            )
    print("  (CPU columns: ms per request, gunicorn's master and workers, and the kind's server)")
    others = [k for k in kinds if k != "local"]
    if "local" not in kinds:
        print("\n  local was not measured: no ratios (add local to --kinds for the baseline)")
    elif others:
        local = h.median([e2e_rate(r["local"]) for r in rounds])
        ratios = ", ".join(
            f"{k} {ratio_to_local(rounds, lambda r, k=k: e2e_rate(r[k]) / e2e_rate(r['local']))}"
            for k in others
        )
        print(f"\n  end to end against local ({local:.1f} files/s), same round: {ratios}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200, help="files per kind and round (default 200)")
    parser.add_argument("--size", type=int, default=50_000, help="bytes per file (default 50000)")
    parser.add_argument("--clients", type=int, default=4, help="client threads posting (default 4)")
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"in this order (default {','.join(KINDS)})")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds over all kinds, each starting one kind later (default 3)",
    )
    parser.add_argument("--get-clients", type=int, default=8, help="client threads for GETs (default 8)")
    parser.add_argument("--get-rounds", type=int, default=2, help="GETs of each stored file (default 2)")
    parser.add_argument("--concurrency", type=int, default=2, help="worker pool processes (default 2)")
    parser.add_argument("--web-workers", type=int, default=3, help="gunicorn sync workers (default 3)")
    h.add_common_arguments(parser)
    args = parser.parse_args()
    kinds = parse_kinds(args.kinds)
    if args.rounds < 1 or args.files < 1:
        raise SystemExit("--rounds and --files must be at least 1")

    with h.stack_from(args, "kinds") as stack:
        stack.start()
        s3 = dav = None
        pids = {"onedrive": stack.emulator_pid}
        if "s3" in kinds:
            s3, process = stack.s3_server()
            pids["s3"] = process.pid
        if "webdav" in kinds:
            dav, process = stack.webdav_server()
            pids["webdav"] = process.pid
        channels = make_channels(stack, kinds, s3, dav)
        web = stack.web(workers=args.web_workers)
        worker = stack.worker(concurrency=args.concurrency)
        print(
            f"kinds: {', '.join(kinds)}; {args.rounds} rounds of {args.files} files of {args.size / 1000:g} KB "
            "per kind, "
            f"gunicorn {args.web_workers} sync workers, celery prefork concurrency {args.concurrency}"
        )
        print(f"  {stack.describe()}")
        print(f"  machine: {os.cpu_count()} cores, load average {load_average()} at the start")
        rounds = []
        for number in range(args.rounds):
            # Each round starts one kind later, so no kind always runs first (or last).
            order = kinds[number % len(kinds) :] + kinds[: number % len(kinds)]
            results = {}
            for kind in order:
                started = time.monotonic()
                results[kind] = measure(stack, web, worker, kind, channels[kind], pids.get(kind), args)
                print(
                    f"  round {number + 1}, {kind}: {e2e_rate(results[kind]):.1f} files/s end to end, "
                    f"{serve_rate(results[kind]):.1f} GET/s; {time.monotonic() - started:.1f} s",
                    flush=True,
                )
            rounds.append(results)
        report(kinds, rounds, args)
        print(f"  load average {load_average()} at the end (1, 5, 15 min)")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
