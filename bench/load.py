"""The Procfile's process set under load: small uploads from many clients, its memory (PSS) at
rest and at peak beside the old set's, and GET /file/<id> on every channel kind beside nginx.

    .venv/bin/python bench/load.py                  # the full run (a few minutes)
    .venv/bin/python bench/load.py --ci             # quick correctness run, under two minutes
    .venv/bin/python bench/load.py --set procfile --no-serving

Process sets, started as their commands say, each on its own port:
  procfile  the Procfile's lines (web, worker), each run by /bin/sh as a Procfile runner does;
  old       the set before: gunicorn 3 workers x 4 threads, a prefork Celery worker (one pool
            process per core, Celery's default) and beat as a process of its own.
For each set (both by default, on the same database and emulator), --rounds times (3), every
other round the other set first (figures: the median over rounds, the ratio the median of
each round's; other work on a small machine moves any one round's):
  1. a warm-up of a few uploads, then PSS of every process at rest;
  2. --files uploads of --size bytes from --clients threads while PSS is sampled: files per
     second from the first POST until every row is stored, and p50/p99 of POST /upload;
  3. the checks: no POST answered other than 200 (a 5xx counts), every file stored exactly
     once (one row each, and the channel's listing holds each once and nothing more), and
     every link serving the bytes that were posted.
PSS (/proc/<pid>/smaps_rollup) counts a page shared by N processes as 1/N in each, so the sum
over a set is what it holds in all; the peak is the highest sum sampled at one moment.

Then, on the procfile set (--no-serving leaves it out): the files of each kind (OneDrive by
proxy and by redirect, S3 by proxy and by redirect, WebDAV, local) fetched with GET /file/<id>
from 8 and 64 clients (--serve-clients), every body checked (a redirect: its 302 counted, one
followed), beside nginx (or python's http.server where nginx is missing) serving the same
bytes from disk in the same run: requests per second, p50/p99, and the ratio to the static
server. The loopback S3, WebDAV and Graph servers share the machine's cores with the site.

--ci: 100 uploads from 20 clients on the procfile set, its footprint, no serving; the exit
status is 1 when a check of 3 fails, never because of a speed.
"""

import argparse
import collections
import hashlib
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h  # noqa: E402
import kinds as k  # noqa: E402

NGINX = "/usr/sbin/nginx"
OLD = {
    "web": "gunicorn imgbed_site.wsgi --bind 127.0.0.1:$PORT --workers 3 --worker-class gthread --threads 4"
    " --access-logfile - --logger-class imgbed_site.accesslog.RedactingLogger",
    "worker": "celery -A imgbed_site worker --loglevel=INFO",
    "beat": "celery -A imgbed_site beat --loglevel=INFO --schedule=$IMGBED_DATA_DIR/celerybeat-schedule-old",
}
# What marks each process ready, by its Procfile name.
READY = {"worker": " ready.", "beat": "beat: Starting..."}


def procfile_lines() -> dict[str, str]:
    lines = {}
    for line in (h.ROOT / "Procfile").read_text().splitlines():
        name, sep, command = line.partition(":")
        if sep and not name.startswith("#") and name.strip():
            lines[name.strip()] = command.strip()
    return lines


class ProcessSet:
    """The processes of one set, each `exec`ed by /bin/sh with the stack's settings."""

    def __init__(self, stack, which: str):
        self.which = which
        self.stack = stack
        port = h.free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = stack.env(PORT=port, SITE_URL=self.url)
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
        if which == "old":
            lines = OLD
            env.update(CELERY_WORKER_POOL="prefork", CELERY_WORKER_CONCURRENCY=str(os.cpu_count()))
        else:
            lines = procfile_lines()
        self.processes = {}
        for name, line in lines.items():
            process = h.Process(f"{which}-{name}", ["/bin/sh", "-c", f"exec {line}"], env, stack.log_dir)
            stack.processes.append(process)
            self.processes[name] = process
        self.describe = "; ".join(f"{name}: {line}" for name, line in lines.items())

    def wait_ready(self):
        for name, process in self.processes.items():
            if name in READY:
                process.wait_for_log(READY[name], timeout=120)
        # Beat inside the worker (the Procfile's --beat-thread) says so in the worker's log.
        if "beat" not in self.processes:
            self.processes["worker"].wait_for_log(READY["beat"], timeout=60)
        deadline = time.monotonic() + 120
        while True:
            try:
                with h.client() as http:
                    if http.get(self.url + "/api/channels", timeout=10).status_code == 200:
                        return self
            except (h.requests.ConnectionError, h.requests.Timeout):
                pass
            if time.monotonic() > deadline or not self.processes["web"].alive():
                raise RuntimeError(f"{self.which} web did not answer:\n{self.processes['web'].tail()}")
            time.sleep(0.2)

    def roots(self) -> dict[str, int]:
        return {name: process.pid for name, process in self.processes.items()}

    def stop(self):
        for process in self.processes.values():
            self.stack.stop(process)


# --- the upload load and its checks -----------------------------------------------------


def expected_digests(payloads) -> dict[str, str]:
    return {f"{index}-load.png": hashlib.sha256(data).hexdigest() for index, data in enumerate(payloads)}


def check_stored_once(ids, channel, problems):
    """One stored row per upload, and the channel's own listing holding each once and no more."""
    from channels.backends import backend_for
    from uploads.models import StoredFile

    if len(set(ids)) != len(ids):
        problems.append(f"{len(ids) - len(set(ids))} links were given out twice")
    rows = list(StoredFile.objects.filter(public_id__in=ids).values_list("public_id", "status", "remote_id"))
    if len(rows) != len(set(ids)):
        problems.append(f"{len(set(ids)) - len(rows)} of {len(set(ids))} uploads have no row")
    not_stored = [public_id for public_id, status, _ in rows if status != StoredFile.Status.STORED]
    if not_stored:
        problems.append(f"{len(not_stored)} files not stored, e.g. {not_stored[0]}")
    listed = collections.Counter(item.remote_id for item in backend_for(channel).list_items())
    twice = [remote for remote, count in listed.items() if count > 1]
    if twice:
        problems.append(f"{len(twice)} files are on the channel more than once, e.g. {twice[0]}")
    missing = [public_id for public_id, _, remote in rows if listed.get(remote, 0) == 0]
    if missing:
        problems.append(f"{len(missing)} stored files are not on the channel, e.g. {missing[0]}")
    on_channel = StoredFile.objects.filter(channel=channel, status=StoredFile.Status.STORED).count()
    if sum(listed.values()) != on_channel:
        problems.append(f"the channel holds {sum(listed.values())} files for {on_channel} stored rows")


def check_links(url, ids, digests, clients, problems):
    """GET every link: the bytes that were posted under that name."""
    from uploads.models import StoredFile

    names = dict(StoredFile.objects.filter(public_id__in=ids).values_list("public_id", "original_name"))
    wanted = {f"/file/{public_id}": digests.get(name) for public_id, name in names.items()}

    def check(path, response):
        if hashlib.sha256(response.content).hexdigest() != wanted[path]:
            return f"{path}: {len(response.content)} bytes, not the ones posted"
        return None

    try:
        h.run_gets(url, list(wanted), clients, expect=(200,), check=check)
    except RuntimeError as exc:
        problems.append(f"links: {exc}")


def run_set(stack, which, args, problems):
    """Start one set, load it, check it; its figures."""
    started = time.monotonic()
    processes = ProcessSet(stack, which).wait_ready()
    print(f"\n  {which} set: {processes.describe}", flush=True)
    warm = [h.png_bytes(args.size) for _ in range(args.warm)]
    try:
        stack.wait_stored(h.run_load(processes.url, warm, min(args.clients, 8))["ids"], timeout=300)
    except RuntimeError as exc:
        problems.append(f"{which} set, warm-up: {exc}")
    time.sleep(1)  # the last acknowledgements and results written: at rest
    rest = h.pss_by_process(processes.roots())

    payloads = [h.png_bytes(args.size) for _ in range(args.files)]
    cpu = {name: h.cpu_seconds(pid) for name, pid in processes.roots().items()}
    with h.PssSampler(processes.roots(), interval=args.sample_interval) as sampler:
        try:
            load = h.run_load(processes.url, payloads, args.clients, name="load.png")
        except RuntimeError as exc:
            problems.append(f"{which} set: {exc}")
            load = None
        if load:
            try:
                done = max(stack.wait_stored(load["ids"], timeout=args.timeout).values())
            except RuntimeError as exc:
                problems.append(f"{which} set: {exc}")
                done = None
            cpu = {name: h.cpu_seconds(pid) - cpu[name] for name, pid in processes.roots().items()}
            check_links(processes.url, load["ids"], expected_digests(payloads), args.clients, problems)
    result = {
        "which": which,
        "files": args.files,
        "rest": rest,
        "peak": sampler.peak,
        "peak_by_process": sampler.peak_by_process,
    }
    result["samples"] = sampler.samples
    result["cpu"] = cpu if load else {}
    if load:
        check_stored_once(load["ids"], stack.channel, problems)
        result.update(
            posts=load["rate"],
            p50=h.percentile(load["latencies"], 50),
            p99=h.percentile(load["latencies"], 99),
            rate=args.files / (done - load["first"]) if done else None,
        )
    result["processes"] = processes
    print(f"  {which} set measured in {time.monotonic() - started:.0f} s", flush=True)
    return result


def print_footprint(result):
    rest, peaks = result["rest"], result["peak_by_process"]
    print(f"\n  {result['which']} set, PSS in MiB ({result['samples']} samples during the load)")
    print(f"    {'process':<22} {'at rest':>8} {'peak':>8}")
    for name in sorted(set(rest) | set(peaks)):
        print(f"    {name:<22} {h.mib(rest.get(name, 0)):>8.1f} {h.mib(peaks.get(name, 0)):>8.1f}")
    print(
        f"    {'sum':<22} {h.mib(sum(rest.values())):>8.1f} {h.mib(result['peak']):>8.1f}  (peak: at one moment)"
    )
    if result["cpu"]:
        each = ", ".join(
            f"{name} {seconds / result['files'] * 1000:.1f} ms" for name, seconds in result["cpu"].items()
        )
        print(f"    CPU per file, first POST until all stored (with children): {each}")


def print_rates(rounds):
    """`rounds`: one {set: result} per round."""
    print(
        f"\n  {'round, set':<12} {'files/s':>8} {'POSTs/s':>8} {'POST p50':>9} {'p99 ms':>7}"
        f" {'PSS rest':>9} {'PSS peak':>9}"
    )
    for number, results in enumerate(rounds, 1):
        for which, r in results.items():
            rate = "-" if r.get("rate") is None else f"{r['rate']:.1f}"
            posts = "-" if r.get("posts") is None else f"{r['posts']:.1f}"
            print(
                f"  {f'{number}, {which}':<12} {rate:>8} {posts:>8} {k.ms(r.get('p50')):>9} {k.ms(r.get('p99')):>7}"
                f" {h.mib(sum(r['rest'].values())):>9.1f} {h.mib(r['peak']):>9.1f}"
            )
    print("  (files/s: first POST until every row stored; PSS in MiB, summed over the set)")
    both = [
        r
        for r in rounds
        if {"old", "procfile"} <= set(r) and r["old"].get("rate") and r["procfile"].get("rate")
    ]
    if both:
        ratios = [r["procfile"]["rate"] / r["old"]["rate"] for r in both]
        new = h.median([r["procfile"]["rate"] for r in both])
        old = h.median([r["old"]["rate"] for r in both])
        peak_new = max(r["procfile"]["peak"] for r in both)
        peak_old = max(r["old"]["peak"] for r in both)
        print(
            f"  procfile set against the old, median of {len(both)} rounds: {new:.1f} against {old:.1f} files/s,"
            f" {h.median(ratios):.2f}x the rate (per round {min(ratios):.2f}x to {max(ratios):.2f}x);"
            f" highest PSS peak {h.mib(peak_new):.0f} MiB against {h.mib(peak_old):.0f} MiB"
        )


# --- serving ------------------------------------------------------------------------------


class StaticServer:
    """nginx (one worker process) serving `folder`, or python's http.server where there is no nginx."""

    def __init__(self, stack, folder: Path):
        port = h.free_port()
        self.url = f"http://127.0.0.1:{port}"
        if os.access(NGINX, os.X_OK):
            prefix = stack.tmp / "nginx"
            prefix.mkdir(exist_ok=True)
            temps = " ".join(
                f"{kind}_temp_path {prefix / kind};"
                for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
            )
            conf = prefix / "nginx.conf"
            conf.write_text(
                ("user root;\n" if os.geteuid() == 0 else "")
                + f"daemon off; worker_processes 1; pid {prefix / 'nginx.pid'}; error_log {prefix / 'error.log'};\n"
                "events { worker_connections 1024; }\n"
                f"http {{ access_log off; {temps} keepalive_requests 1000000;\n"
                f"  server {{ listen 127.0.0.1:{port}; root {folder}; sendfile on; }} }}\n"
            )
            args, self.name = [NGINX, "-c", str(conf), "-p", str(prefix)], "nginx (1 worker process)"
        else:
            args = [
                sys.executable,
                "-m",
                "http.server",
                str(port),
                "--bind",
                "127.0.0.1",
                "--directory",
                str(folder),
            ]
            self.name = "python http.server"
        self.process = h.Process("static", args, dict(os.environ), stack.log_dir)
        stack.processes.append(self.process)
        deadline = time.monotonic() + 30
        while True:
            try:
                with h.client() as http:
                    http.get(self.url + "/", timeout=5)
                return
            except h.requests.ConnectionError:
                if time.monotonic() > deadline or not self.process.alive():
                    raise RuntimeError(f"{self.name} did not start:\n{self.process.tail()}") from None
                time.sleep(0.1)


def serving(stack, processes, args, problems):
    """GET /file/<id> per kind and mode, at each client count, beside the static server."""
    kinds = ["onedrive", "s3", "webdav", "local"]
    s3, _ = stack.s3_server()
    dav, _ = stack.webdav_server()
    channels = k.make_channels(stack, kinds, s3, dav)
    modes = {
        "onedrive": ["proxy", "redirect"],
        "s3": ["proxy", "redirect"],
        "webdav": ["proxy"],
        "local": ["proxy"],
    }
    static_dir = stack.tmp / "static"
    static_dir.mkdir()
    static_paths = []
    payloads = [h.png_bytes(args.size) for _ in range(args.serve_files)]
    for number, data in enumerate(payloads):
        (static_dir / f"{number}.png").write_bytes(data)
        static_paths.append(f"/{number}.png")
    digests = {f"/{n}.png": hashlib.sha256(d).hexdigest() for n, d in enumerate(payloads)}
    static = StaticServer(stack, static_dir)

    def same_bytes(path, response):
        return (
            None if hashlib.sha256(response.content).hexdigest() == digests[path] else f"{path}: wrong bytes"
        )

    results = []
    for clients in args.serve_clients:
        got = h.run_gets(static.url, static_paths * args.serve_rounds, clients, check=same_bytes)
        results.append(("static", static.name, clients, got))
    for kind in kinds:
        channel = channels[kind]
        k.only_enabled(channel)
        try:
            load = h.run_load(processes.url, payloads, 8, name=f"{kind}.png")
            stack.wait_stored(load["ids"], timeout=300)
            k.check_rows(load["ids"], channel)
        except RuntimeError as exc:
            problems.append(f"serving, uploading to {kind}: {exc}")
            continue
        expected = k.sizes_and_digests(load["ids"])
        paths = list(expected) * args.serve_rounds
        for mode in modes[kind]:
            k.set_serve_mode(channel, mode)
            for clients in args.serve_clients:
                try:
                    got = k.serve(processes, paths, clients, expected, mode)
                    if mode == "redirect":
                        k.follow_one(processes, paths[0], expected, verify=stack.emulator["ca"])
                except RuntimeError as exc:
                    problems.append(f"serving {kind} by {mode}, {clients} clients: {exc}")
                    continue
                results.append((kind, mode, clients, got))
                print(f"    {kind}, {mode}, {clients} clients: {got['rate']:.0f} req/s", flush=True)
        k.set_serve_mode(channel, "proxy")
    static_rate = {clients: got["rate"] for kind, _, clients, got in results if kind == "static"}
    print(
        f"\n  serving: GET of {args.serve_files} files of {args.size / 1000:g} KB per kind, each {args.serve_rounds}x;"
        f" beside {static.name} serving the same bytes from disk"
    )
    print(f"    {'kind, mode':<34} {'clients':>7} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'vs static':>9}")
    for kind, mode, clients, got in results:
        label = f"{kind}, {mode}" + (" (302 only)" if mode == "redirect" else "")
        lat = got["latencies"]
        print(
            f"    {label:<34} {clients:>7} {got['rate']:>8.1f} {k.ms(h.percentile(lat, 50)):>7}"
            f" {k.ms(h.percentile(lat, 99)):>7} {got['rate'] / static_rate[clients]:>8.2f}x"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ci", action="store_true", help="quick correctness run (100 uploads, 20 clients)")
    parser.add_argument("--set", choices=["both", "procfile", "old"], default="both", help="default both")
    parser.add_argument("--files", type=int, default=500, help="uploads per set (default 500)")
    parser.add_argument("--clients", type=int, default=50, help="client threads posting (default 50)")
    parser.add_argument("--size", type=int, default=20_000, help="bytes per file (default 20000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every set, alternating (default 3)")
    parser.add_argument("--warm", type=int, default=16, help="warm-up uploads, not counted (default 16)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds for every file to be stored")
    parser.add_argument("--sample-interval", type=float, default=0.2, help="PSS sampling, seconds")
    parser.add_argument("--no-serving", action="store_true", help="leave out the serving figures")
    parser.add_argument("--serve-files", type=int, default=50, help="files per kind for serving (default 50)")
    parser.add_argument("--serve-rounds", type=int, default=10, help="GETs of each file (default 10)")
    parser.add_argument("--serve-clients", default="8,64", help="client counts for GETs (default 8,64)")
    h.add_common_arguments(parser)
    args = parser.parse_args()
    if args.ci:
        args.files, args.clients, args.set, args.no_serving, args.warm, args.rounds = (
            100,
            20,
            "procfile",
            True,
            8,
            1,
        )
    args.serve_clients = [int(n) for n in args.serve_clients.split(",")]
    sets = ["old", "procfile"] if args.set == "both" else [args.set]
    problems = []

    with h.stack_from(args, "load") as stack:
        stack.start()
        print(
            f"load: {args.files} uploads of {args.size / 1000:g} KB from {args.clients} clients per set"
            f" ({', '.join(sets)}); {os.cpu_count()} cores, load average {k.load_average()}"
        )
        print(f"  {stack.describe()}")
        rounds = []
        for number in range(args.rounds):
            # Every other round the other set goes first: the machine's other work, the growing
            # tables, the warm caches weigh on both alike.
            results = {}
            for which in sets if number % 2 == 0 else sets[::-1]:
                results[which] = run_set(stack, which, args, problems)
                if number < args.rounds - 1 or which != "procfile" or args.no_serving:
                    results[which]["processes"].stop()
            rounds.append(results)
        for which in sets:  # each set's round with the highest peak
            print_footprint(max((r[which] for r in rounds), key=lambda r: r["peak"]))
        print_rates(rounds)
        if not args.no_serving and "procfile" in sets:
            serving(stack, rounds[-1]["procfile"]["processes"], args, problems)
        print(f"  load average {k.load_average()} at the end")
    if problems:
        print("\nFAILED:", *problems, sep="\n  ")
        sys.exit(1)
    print("\nchecks: no failed POST, every file stored once, every link serving the bytes posted")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
