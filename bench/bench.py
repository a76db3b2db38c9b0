"""Benchmarks (BENCHMARKS.md): real release bootstraps under a fake Lambda
Runtime API that feeds them signed API Gateway HTTP API (2.0) events, with a
call-counting proxy between the functions and DynamoDB Local; then the
Lambda model (bench/lambda_model.py): the same functions against DynamoDB
Local behind TLS, with their CPU time per phase, and at 128 MB under a real
CPU quota.

Usage: bench.py DYNAMODB_URL TARGET_DIR   (scripts/bench.sh sets it all up)
The model reads DYNAMODB_TLS_URL, DYNAMODB_TLS_CA_BUNDLE, and (when set)
LAMBDA_CPU_CGROUPS and LAMBDA_CPU_CGROUP_MB from the environment. With
AWS_ENDPOINT_URL_SECRETSMANAGER (moto) and SECRETS_MANAGER_TLS_URL (moto
behind TLS) set, the function is also measured reading its keys from a
secret at init, as the template deploys it, and modelled at
LAMBDA_MEMORY_MB (template.yaml's MemorySize).
Prints a Markdown report and writes it to bench/last-run.md.
"""

import http.server
import json
import os
import signal
import socketserver
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid


from lambda_model import (MEMORY_SIZES_MB, PRICE_SOURCE, PUBLISHED_FIRST_MS, PUBLISHED_WARM_MS,
                          cost_per_million, cpu_share, mixed, published_warm_cpu_ms, stretched)

DYNAMODB = sys.argv[1].rstrip("/")
PROXY = DYNAMODB  # main() puts the call-counting proxy in between
TARGET = sys.argv[2]
AK, SK = os.environ["QNLIVE_AK"], os.environ["QNLIVE_SK"]
TABLE = os.environ["USERS_TABLE"]
STARTS = int(os.environ.get("BENCH_STARTS", "15"))
# The Lambda model: DynamoDB over TLS, and the mix of cold and warm
# requests the MemorySize proposal weighs.
TLS_ENV = {"AWS_ENDPOINT_URL_DYNAMODB": os.environ["DYNAMODB_TLS_URL"],
           "SSL_CERT_FILE": os.environ["DYNAMODB_TLS_CA_BUNDLE"]}
# moto, a local Secrets Manager, plain and behind TLS (scripts/bench.sh).
SECRETS_MANAGER = os.environ.get("AWS_ENDPOINT_URL_SECRETSMANAGER")
SECRETS_MANAGER_TLS = os.environ.get("SECRETS_MANAGER_TLS_URL")
COLD_SHARE = float(os.environ.get("BENCH_COLD_SHARE", "0.01"))
WARM_REQUESTS = int(os.environ.get("BENCH_WARM_REQUESTS", "20"))


class Threaded(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # A function killed at the end of a measurement drops its
        # connection to the runtime API: expected, not worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionResetError):
            super().handle_error(request, client_address)


# ---------------------------------------------------------------- DynamoDB proxy

calls = {}
calls_lock = threading.Lock()


class CountingProxy(http.server.BaseHTTPRequestHandler):
    """Forwards to DynamoDB Local and counts calls by operation."""

    protocol_version = "HTTP/1.1"
    # Without these, headers and body leave in two segments and Nagle's
    # algorithm meets the client's delayed ACK: 40 ms on every warm call.
    disable_nagle_algorithm = True
    wbufsize = -1

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        operation = self.headers.get("X-Amz-Target", "?").split(".")[-1]
        with calls_lock:
            calls[operation] = calls.get(operation, 0) + 1
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
        request = urllib.request.Request(DYNAMODB + self.path, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                status, answer, content_type = reply.status, reply.read(), reply.headers.get("Content-Type")
        except urllib.error.HTTPError as error:
            status, answer, content_type = error.code, error.read(), error.headers.get("Content-Type")
        self.send_response(status)
        self.send_header("Content-Type", content_type or "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


def snapshot():
    with calls_lock:
        return dict(calls)


def calls_since(before):
    now = snapshot()
    return {k: now[k] - before.get(k, 0) for k in now if now[k] != before.get(k, 0)}


# ---------------------------------------------------------------- Runtime API

# The stand-in shared with scripts/worst_case_memory.sh.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from lambda_runtime import Events, Runtime, lambda_environment  # noqa: E402


# ---------------------------------------------------------------- events

# Events come from the test suite's own builder (test-support/src/event.rs),
# through examples/api_gateway_event.rs: one builder for tests, fuzz targets
# and benchmarks.
EVENTS = Events(os.path.join(TARGET, "release", "examples", "api_gateway_event"), AK, SK)
event = EVENTS.event


def code_of(reply):
    return json.loads(reply["body"])["code"], reply["statusCode"]


def dynamodb_local_floor():
    """What DynamoDB Local alone needs for 200 single writes and for the 8
    parallel 25-item batches a batch register sends: the bound on how much
    faster a batch can be here, whatever the function does."""
    def call(operation, body):
        request = urllib.request.Request(DYNAMODB, data=json.dumps(body).encode(), method="POST", headers={
            "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"DynamoDB_20120810.{operation}",
            # DynamoDB Local wants the header, not a valid signature.
            "Authorization": "AWS4-HMAC-SHA256 Credential=local/20261130/us-east-1/dynamodb/aws4_request, "
                             "SignedHeaders=host, Signature=0"})
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.read()

    def item(i):
        return {"pk": {"S": f"USER#floor-{i}"}, "user_id": {"S": f"floor-{i}"}, "nick": {"S": ""},
                "avatar": {"S": ""}, "extends": {"M": {}}, "im_userid": {"N": str(i)}}

    started = time.perf_counter()
    for i in range(200):
        call("PutItem", {"TableName": TABLE, "Item": item(i)})
    singles = time.perf_counter() - started
    chunks = [[{"PutRequest": {"Item": item(1000 + c * 25 + j)}} for j in range(25)] for c in range(8)]
    threads = [threading.Thread(target=call, args=("BatchWriteItem", {"RequestItems": {TABLE: chunk}}))
               for chunk in chunks]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return singles, time.perf_counter() - started


# ---------------------------------------------------------------- processes

def start(binary, runtime, extra_env=None, stdout_lines=None):
    env = lambda_environment(runtime, 128, {
        "AWS_ENDPOINT_URL_DYNAMODB": PROXY, "USERS_TABLE": TABLE, "QINIU_KEYS": f"{AK}:{SK}",
    })
    # None removes a variable (QINIU_KEYS, when a secret names the keys).
    for name, value in (extra_env or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    started = time.perf_counter()
    piped = env["RUST_LOG"] == "info" or stdout_lines is not None
    output = subprocess.PIPE if piped else subprocess.DEVNULL
    process = subprocess.Popen([binary], env=env, stdout=output, stderr=subprocess.DEVNULL, text=True)
    if stdout_lines is not None:
        # Read as it comes, or a full pipe would stall the function.
        process.reader = threading.Thread(target=lambda: stdout_lines.extend(process.stdout), daemon=True)
        process.reader.start()
    if not runtime.first_poll.wait(timeout=30):
        process.kill()
        raise RuntimeError(f"{binary} never asked for an event")
    return process, (runtime.first_poll_at - started) * 1000


def peak_rss_kb(process):
    with open(f"/proc/{process.pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def cold_and_warm(binary, make_event, warm_requests=20, extra_env=None):
    """Median init, first-request and warm-request times over STARTS starts."""
    inits, firsts, warms = [], [], []
    for _ in range(STARTS):
        runtime = Runtime()
        process, init_ms = start(binary, runtime, extra_env)
        try:
            inits.append(init_ms)
            firsts.append(runtime.invoke(make_event())[0] * 1000)
            for _ in range(warm_requests):
                warms.append(runtime.invoke(make_event())[0] * 1000)
        finally:
            process.kill()
            process.wait()
            runtime.close()
    return statistics.median(inits), statistics.median(firsts), statistics.median(warms)


# ---------------------------------------------------------------- the benchmark

def maxim_register_cost(ours, registers=100):
    """A register with IM_PROVIDER=maxim against the test suite's fake Lanying
    IM (examples/fake_im.rs), beside one with the embedded provider: time,
    and the calls each makes, from the function's own metrics lines."""
    fake_im = os.path.join(TARGET, "release", "examples", "fake_im")
    im = subprocess.Popen([fake_im], stdout=subprocess.PIPE, text=True, env={
        "PATH": os.environ["PATH"], "FAKE_IM_PORT": "0", "MAXIM_APP_ID": "bench", "MAXIM_ADMIN_TOKEN": "bench-token"})
    im_url = im.stdout.readline().strip().split("=", 1)[1]
    rows = []
    try:
        for provider, extra in [
            ("local", {}),
            ("maxim", {"IM_PROVIDER": "maxim", "MAXIM_API_URL": im_url, "MAXIM_APP_ID": "bench",
                       "MAXIM_ADMIN_TOKEN": "bench-token"}),
        ]:
            lines = []
            runtime = Runtime()
            process, _ = start(ours, runtime, {**extra, "METRICS_NAMESPACE": "Bench"}, lines)
            try:
                runtime.invoke(event("POST", "/server/user/register", body={"user_id": f"{provider}_warm"}))
                times = [runtime.invoke(event("POST", "/server/user/register",
                                              body={"user_id": f"{provider}_{i}"}))[0] * 1000
                         for i in range(registers)]
            finally:
                process.kill(); process.wait(); runtime.close()
            process.reader.join(timeout=5)  # what is still in the pipe
            # serde_json sorts the keys: "_aws" is not the first one.
            metrics = [json.loads(line) for line in lines if '"_aws"' in line]
            metrics = [m for m in metrics if m.get("route") == "register"][1:]
            if not metrics:
                raise RuntimeError(f"no metrics lines from the {provider} function")
            rows.append((provider, statistics.median(times),
                         statistics.mean(m["ImCalls"] for m in metrics),
                         statistics.mean(m["DynamoDbCalls"] for m in metrics)))
    finally:
        im.kill(); im.wait()
    report = [f"\n### A register, embedded IM provider against Lanying IM (the fake), median of {registers}\n",
              "| IM_PROVIDER | register ms | IM calls per register | DynamoDB calls per register |",
              "|---|---|---|---|"]
    for provider, median, im_calls, dynamodb_calls in rows:
        report.append(f"| {provider} | {median:.2f} | {im_calls:.2f} | {dynamodb_calls:.2f} |")
    return report


# ---------------------------------------------------------------- the Lambda model

def thread_cpu_ns(pid):
    """CPU time of each thread of a process so far, in ns: the first field
    of /proc/PID/task/TID/schedstat (the scheduler's sum_exec_runtime)."""
    times = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as stat:
                times[tid] = int(stat.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass  # the thread ended between the listing and the read
    return times


def cpu_ms_since(pid, before):
    """The process's CPU ms since `before` (a thread_cpu_ns), all threads.
    Per thread, so that one that ends meanwhile (tokio's idle blocking
    threads do after 10 s) loses only its own last moments, not its total."""
    return sum(ns - before.get(tid, 0) for tid, ns in thread_cpu_ns(pid).items()) / 1e6


def measured_invoke(runtime, pid, ev):
    """Wall ms of one invocation (event handed out to response received),
    and the function's CPU ms for it: read while it waits for an event,
    before this one and after it asked for the next."""
    polls = runtime.polls
    before = thread_cpu_ns(pid)
    elapsed, reply = runtime.invoke(ev)
    runtime.wait_for_poll(polls + 1)
    cpu = cpu_ms_since(pid, before)
    status, code = reply.get("statusCode"), json.loads(reply["body"]).get("code")
    if status != 200 or code != 0:
        raise RuntimeError(f"expected 200 and code 0, got {status} and {reply['body'][:300]}")
    return elapsed * 1000, cpu


def join_cgroup(cgroup, pid):
    with open(os.path.join(cgroup, "cgroup.procs"), "w") as procs:
        procs.write(str(pid))


def cgroup_quota(cgroup):
    """(quota µs, period µs) of a cgroup v1 cpu or v2 cgroup."""
    if os.path.exists(os.path.join(cgroup, "cpu.max")):
        with open(os.path.join(cgroup, "cpu.max")) as limit:
            quota, period = limit.read().split()
        return int(quota), int(period)
    with open(os.path.join(cgroup, "cpu.cfs_quota_us")) as quota, \
            open(os.path.join(cgroup, "cpu.cfs_period_us")) as period:
        return int(quota.read()), int(period.read())


def lambda_runs(binary, make_event, cgroup=None, extra_env=None, count=STARTS):
    """`count` starts over TLS. Per start: init wall and CPU (to the first
    GET /next), the first request's wall and CPU, peak RSS; and the wall
    and CPU of every warm request. With a cgroup, the function joins it
    after init, as Lambda throttles only the requests."""
    starts, warm = [], []
    for _ in range(count):
        runtime = Runtime()
        process, init_ms = start(binary, runtime, {**TLS_ENV, **(extra_env or {})})
        try:
            init_cpu = cpu_ms_since(process.pid, {})
            if cgroup:
                join_cgroup(cgroup, process.pid)
            first, first_cpu = measured_invoke(runtime, process.pid, make_event())
            for _ in range(WARM_REQUESTS):
                warm.append(measured_invoke(runtime, process.pid, make_event()))
            rss = peak_rss_kb(process)
        finally:
            process.kill(); process.wait(); runtime.close()
        starts.append({"init": init_ms, "init_cpu": init_cpu, "first": first, "first_cpu": first_cpu, "rss": rss})
    return starts, warm


def median_iqr(values):
    """'median (first quartile-third quartile)', one decimal."""
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return f"{median:.1f} ({q1:.1f}–{q3:.1f})"


def modelled(starts, warm, memory_mb, extra_wait_ms=0.0, cpu_factor=1.0):
    """Median cold request, first request and warm request on Lambda at
    this size, each modelled per sample (bench/lambda_model.py). If asked,
    each request waits `extra_wait_ms` longer than here and needs
    `cpu_factor` times the CPU (init stays as measured)."""
    def on_lambda(wall, cpu):
        return stretched(wall + extra_wait_ms + (cpu_factor - 1) * cpu, cpu_factor * cpu, memory_mb)
    first = [on_lambda(s["first"], s["first_cpu"]) for s in starts]
    cold = [s["init"] + f for s, f in zip(starts, first)]
    warm_ms = [on_lambda(wall, cpu) for wall, cpu in warm]
    return statistics.median(cold), statistics.median(first), statistics.median(warm_ms)


def memory_choice(starts, warm, cold_share, extra_wait_ms=0.0, cpu_factor=1.0):
    """Per size: cold and warm ms, their cost per million, and the mix's
    mean latency, mean cost and their product; and the size whose product
    is lowest."""
    rows = []
    for mb in MEMORY_SIZES_MB:
        cold, _, warm_ms = modelled(starts, warm, mb, extra_wait_ms, cpu_factor)
        cold_usd, warm_usd = cost_per_million(cold, mb), cost_per_million(warm_ms, mb)
        latency, usd = mixed(cold, warm_ms, cold_share), mixed(cold_usd, warm_usd, cold_share)
        rows.append((mb, cold, warm_ms, cold_usd, warm_usd, latency, usd, latency * usd))
    return rows, min(rows, key=lambda row: row[-1])[0]


def endpoint_requests(ids):
    """Each endpoint's requests: (label, users per request, make), where
    make(n) is the n-th request of that kind. The reads and updates go to
    the users `ids` (100 of them, registered beforehand)."""
    query = "&".join(f"user_ids={i}" for i in ids)
    return [
        ("info", 1, lambda n: event("GET", f"/server/user/info/{ids[n % 100]}")),
        ("profile", 1, lambda n: event("GET", f"/server/user/profile/{ids[n % 100]}")),
        ("register", 1, lambda n: event("POST", "/server/user/register", body={"user_id": f"ep-r{n}", "nick": "n"})),
        ("update", 1, lambda n: event("PUT", f"/server/user/{ids[n % 100]}",
                                      body={"nick": f"nick {n}", "extends": {"k": str(n)}})),
        ("infos, 100 ids", 100, lambda n: event("GET", "/server/user/infos", query)),
        ("profiles, 100 ids", 100, lambda n: event("GET", "/server/user/profiles", query)),
        ("register/batch, 100 users", 100, lambda n: event("POST", "/server/user/register/batch",
                                                           body=[{"user_id": f"ep-b{n}-{i:03d}"} for i in range(100)])),
    ]


def start_with_users(binary):
    """An instance over TLS with 100 users registered: (runtime, process, their ids)."""
    runtime = Runtime()
    process, _ = start(binary, runtime, TLS_ENV)
    ids = [f"ep-{i:03d}" for i in range(100)]
    try:
        measured_invoke(runtime, process.pid, event("POST", "/server/user/register/batch",
                                                    body=[{"user_id": i} for i in ids]))
    except BaseException:
        process.kill(); process.wait(); runtime.close()
        raise
    return runtime, process, ids


def endpoint_cpu(ours, requests=40, batch_requests=15):
    """Wall and CPU per warm request of each endpoint, over TLS, on one
    instance: (label, users per request, [(wall, cpu)])."""
    runtime, process, ids = start_with_users(ours)
    try:
        results = []
        for label, users, make in endpoint_requests(ids):
            count = requests if users == 1 else batch_requests
            measured_invoke(runtime, process.pid, make(count))  # the first of a kind is not counted
            results.append((label, users, [measured_invoke(runtime, process.pid, make(n)) for n in range(count)]))
        return results
    finally:
        process.kill(); process.wait(); runtime.close()


def profile(binary, label, requests, perf_data):
    """`perf record` (cpu-clock samples, DWARF call graphs) of one instance
    while it answers `requests` warm requests of one endpoint (a label of
    endpoint_requests); scripts/bench_profile.sh reads the samples."""
    runtime, process, ids = start_with_users(binary)
    try:
        make = {case[0]: case[2] for case in endpoint_requests(ids)}[label]
        for n in range(5):
            measured_invoke(runtime, process.pid, make(requests + n))
        events = [make(n) for n in range(requests)]  # signed before perf starts: not in the samples
        perf = subprocess.Popen(["perf", "record", "--quiet", "-e", "cpu-clock", "-F", "4999",
                                 "--call-graph", "dwarf,32768", "-p", str(process.pid), "-o", perf_data])
        time.sleep(1)  # perf attaches
        cpu = [measured_invoke(runtime, process.pid, ev)[1] for ev in events]
        perf.send_signal(signal.SIGINT)
        perf.wait()
        print(f"{label}: {requests} requests, CPU per request median {statistics.median(cpu):.3f} ms")
    finally:
        process.kill(); process.wait(); runtime.close()


def lambda_model_report(functions, info):
    """The Lambda model's sections of the report."""
    report = [f"\n## Lambda model (DynamoDB over TLS; median (quartiles) of {STARTS} starts, "
              f"{WARM_REQUESTS} warm requests each)\n",
              "### Measured on a full core\n",
              "| function | init ms | init CPU ms | first request ms | first CPU ms | warm ms | warm CPU ms | peak RSS MiB |",
              "|---|---|---|---|---|---|---|---|"]
    runs = {}
    for name, binary in functions:
        starts, warm = lambda_runs(binary, info)
        runs[name] = (starts, warm)
        report.append(f"| {name} | {median_iqr([s['init'] for s in starts])} | "
                      f"{median_iqr([s['init_cpu'] for s in starts])} | {median_iqr([s['first'] for s in starts])} | "
                      f"{median_iqr([s['first_cpu'] for s in starts])} | {median_iqr([w for w, _ in warm])} | "
                      f"{median_iqr([c for _, c in warm])} | {max(s['rss'] for s in starts) / 1024:.1f} |")

    # The same under a real CPU quota: {period ms: {function: runs}}.
    cgroup_mb = int(os.environ.get("LAMBDA_CPU_CGROUP_MB", "128"))
    checked = {}
    for cgroup in os.environ.get("LAMBDA_CPU_CGROUPS", "").split():
        quota, period = cgroup_quota(cgroup)
        if abs(quota / period - cpu_share(cgroup_mb)) > 0.001:
            raise RuntimeError(f"{cgroup} gives {quota}/{period} of a core, not {cgroup_mb} MB's share")
        checked[period / 1000] = {name: lambda_runs(binary, info, cgroup) for name, binary in functions}

    names = [name for name, _ in functions]
    report.append("\n### Modelled on Lambda: cold request ms / warm request ms / USD per million warm requests\n")
    report.append(f"Cold = init + first request + first-request CPU × (1/share − 1); warm = warm + warm CPU × "
                  f"(1/share − 1); share = MB/1769. Prices: {PRICE_SOURCE}. Rows \"measured\": the function "
                  f"in a cgroup with {cgroup_mb} MB's CPU quota (per 100 ms or per 14 ms) from the end of init, "
                  "median cold (init + first) / median warm.\n")
    report.append("| MB | share | " + " | ".join(names) + " |")
    report.append("|---|---|" + "---|" * len(names))
    for mb in MEMORY_SIZES_MB:
        cells = []
        for name in names:
            cold, _, warm_ms = modelled(*runs[name], mb)
            cells.append(f"{cold:.1f} / {warm_ms:.1f} / {cost_per_million(warm_ms, mb):.4f}")
        report.append(f"| {mb} | {cpu_share(mb):.3f} | " + " | ".join(cells) + " |")
        if mb != cgroup_mb:
            continue
        for period_ms, by_name in checked.items():
            cells = []
            for name in names:
                starts, warm = by_name[name]
                cells.append(f"{statistics.median(s['init'] + s['first'] for s in starts):.1f} / "
                             f"{statistics.median(w for w, _ in warm):.1f}")
            report.append(f"| {mb}, measured, quota per {period_ms:g} ms | | " + " | ".join(cells) + " |")

    if checked:
        report.append(f"\n### The model against a real CPU quota at {cgroup_mb} MB\n")
        report.append("The function joins the cgroup after init. Wall ms of the first and the warm requests: "
                      "modelled from the full-core runs, then measured: median (quartiles), and mean. "
                      "CPU ms per warm request: on a full core, and under the quota.\n")
        report.append("| function | quota per | first: model | first: measured | first: mean | warm: model | "
                      "warm: measured | warm: mean | warm CPU, full core | warm CPU, quota |")
        report.append("|---|---|---|---|---|---|---|---|---|---|")
        for period_ms, by_name in checked.items():
            for name in names:
                _, first_model, warm_model = modelled(*runs[name], cgroup_mb)
                starts, warm = by_name[name]
                report.append(
                    f"| {name} | {period_ms:g} ms | {first_model:.1f} | {median_iqr([s['first'] for s in starts])} | "
                    f"{statistics.mean(s['first'] for s in starts):.1f} | {warm_model:.1f} | "
                    f"{median_iqr([w for w, _ in warm])} | {statistics.mean(w for w, _ in warm):.1f} | "
                    f"{median_iqr([c for _, c in runs[name][1]])} | {median_iqr([c for _, c in warm])} |")
    else:
        report.append("\nNo writable cgroup: the model was not checked against a real CPU quota.")

    # The published anchors (bench/lambda_model.py) beside the plain
    # function's model, and the CPU per warm request they imply.
    plain_starts, plain_warm = runs[names[0]]
    cpu_factor = published_warm_cpu_ms() / statistics.median(c for _, c in plain_warm)
    report.append(f"\n### {names[0]} against the published measurements of such a function\n")
    report.append("| request | MB | published ms | modelled ms |")
    report.append("|---|---|---|---|")
    for mb, published in PUBLISHED_FIRST_MS.items():
        report.append(f"| first | {mb} | {published:g} | {modelled(plain_starts, plain_warm, mb)[1]:.1f} |")
    for mb, published in PUBLISHED_WARM_MS.items():
        report.append(f"| warm | {mb} | {published:g} | {modelled(plain_starts, plain_warm, mb)[2]:.1f} |")
    report.append(f"\nThe published warm pair implies {published_warm_cpu_ms():.2f} ms of CPU per warm request on "
                  f"Lambda; here it takes {statistics.median(c for _, c in plain_warm):.2f} ms "
                  f"(× {cpu_factor:.2f}).")

    for name in names:
        rows, best = memory_choice(*runs[name], COLD_SHARE)
        others = {share: memory_choice(*runs[name], share)[1] for share in (0.001, 0.1)}
        report.append(f"\n### MemorySize for {name}: {COLD_SHARE:.0%} cold, {1 - COLD_SHARE:.0%} warm\n")
        report.append("| MB | cold ms | warm ms | USD/M cold | USD/M warm | mean ms | mean USD/M | ms × USD/M |")
        report.append("|---|---|---|---|---|---|---|---|")
        for mb, cold, warm_ms, cold_usd, warm_usd, latency, usd, product in rows:
            mark = "**" if mb == best else ""
            report.append(f"| {mark}{mb}{mark} | {cold:.1f} | {warm_ms:.1f} | {cold_usd:.4f} | {warm_usd:.4f} | "
                          f"{latency:.2f} | {usd:.4f} | {mark}{product:.3f}{mark} |")
        report.append(f"\nLowest product: {best} MB; with 0.1 % cold: {others[0.001]} MB, with 10 % cold: "
                      f"{others[0.1]} MB.\n")
        # Two things this machine cannot show: DynamoDB's own latency
        # (DynamoDB Local on loopback answers in about a millisecond; the
        # wait is billed and is latency), and the CPU a request takes on
        # Lambda's arm64 cores (the published warm pair against the plain
        # function's CPU here).
        report.append("If each request (not init) waited longer for DynamoDB than for DynamoDB Local here, and "
                      "needed the CPU the published warm pair implies (× "
                      f"{cpu_factor:.2f}, see above) rather than this machine's: ms × USD/M of each size over "
                      "the lowest of its row.\n")
        report.append("| waits longer by | CPU × | " + " | ".join(f"{mb} MB" for mb in MEMORY_SIZES_MB) + " |")
        report.append("|---|---|" + "---|" * len(MEMORY_SIZES_MB))
        for factor in (1.0, cpu_factor):
            for wait in (0, 2, 5, 10):
                products = [row[-1] for row in memory_choice(*runs[name], COLD_SHARE, wait, factor)[0]]
                cells = [f"**{p / min(products):.2f}**" if p == min(products) else f"{p / min(products):.2f}"
                         for p in products]
                report.append(f"| {wait} ms | {factor:.2f} | " + " | ".join(cells) + " |")
    return report, runs


def keys_from_secret(endpoint):
    """A new secret in the local Secrets Manager holding the keys, and the
    function's variables that name it (as the template deploys it) instead
    of giving the keys, with `endpoint` as its Secrets Manager."""
    import boto3  # moto[server] brings it
    name = f"bench/keys-{uuid.uuid4()}"
    boto3.client("secretsmanager", endpoint_url=SECRETS_MANAGER, region_name="us-east-1",
                 aws_access_key_id="local", aws_secret_access_key="local").create_secret(
        Name=name, SecretString=f"{AK}:{SK}")
    return {"QINIU_KEYS": None, "QINIU_KEYS_SECRET_ID": name, "AWS_ENDPOINT_URL_SECRETSMANAGER": endpoint}


def secrets_at_init_report(ours, info):
    """The function with its keys in the environment against the same
    function reading them from a secret at init, both on the Lambda model
    (DynamoDB and Secrets Manager behind TLS), starts interleaved so that
    the machine's load falls on both alike."""
    secret_env = keys_from_secret(SECRETS_MANAGER_TLS)
    variants = [("keys in QINIU_KEYS", None), ("keys read from a secret at init", secret_env)]
    runs = {name: ([], []) for name, _ in variants}
    for _ in range(STARTS):
        for name, extra_env in variants:
            starts, warm = lambda_runs(ours, info, extra_env=extra_env, count=1)
            runs[name][0].extend(starts)
            runs[name][1].extend(warm)
    memory_mb = int(os.environ["LAMBDA_MEMORY_MB"])
    report = [f"\n### qnlive-user-api reading its keys at init, on the Lambda model ({STARTS} starts each, "
              "interleaved)\n",
              "Secrets Manager is moto behind the same TLS terminator as DynamoDB Local: the read at init "
              "is a TLS handshake and a signed `GetSecretValue`, beside the DynamoDB warm-up. Median "
              f"(quartiles); cold = init + first request modelled at {memory_mb} MB.\n",
              "| function | init ms | init CPU ms | first request ms | warm ms | "
              f"cold at {memory_mb} MB ms |",
              "|---|---|---|---|---|---|"]
    for name, _ in variants:
        starts, warm = runs[name]
        cold, _, _ = modelled(starts, warm, memory_mb)
        report.append(f"| {name} | {median_iqr([s['init'] for s in starts])} | "
                      f"{median_iqr([s['init_cpu'] for s in starts])} | {median_iqr([s['first'] for s in starts])} | "
                      f"{median_iqr([w for w, _ in warm])} | {cold:.1f} |")
    return report


def endpoint_report(ours):
    report = ["\n### qnlive-user-api: CPU per warm request, by endpoint (over TLS, one instance)\n",
              "Median (quartiles); modelled ms = wall + CPU × (1/share − 1).\n",
              "| request | n | wall ms | CPU ms | CPU µs per user | "
              + " | ".join(f"{mb} MB ms" for mb in MEMORY_SIZES_MB) + " |",
              "|---|---|---|---|---|" + "---|" * len(MEMORY_SIZES_MB)]
    for label, users, samples in endpoint_cpu(ours):
        cpu = statistics.median(c for _, c in samples)
        models = [statistics.median(stretched(w, c, mb) for w, c in samples) for mb in MEMORY_SIZES_MB]
        report.append(f"| {label} | {len(samples)} | {median_iqr([w for w, _ in samples])} | "
                      f"{median_iqr([c for _, c in samples])} | {cpu * 1000 / users:.0f} | "
                      + " | ".join(f"{m:.1f}" for m in models) + " |")
    return report


def main():
    global PROXY
    if os.environ.get("BENCH_PROFILE"):
        return profile(os.environ["BENCH_PROFILE_BINARY"], os.environ["BENCH_PROFILE"],
                       int(os.environ.get("BENCH_PROFILE_REQUESTS", "300")), os.environ["BENCH_PROFILE_DATA"])
    proxy = Threaded(("127.0.0.1", 0), CountingProxy)
    PROXY = f"http://127.0.0.1:{proxy.server_address[1]}"
    threading.Thread(target=proxy.serve_forever, daemon=True).start()

    ours = os.path.join(TARGET, "release", "qnlive-user-api")
    hello = os.path.join(TARGET, "release", "examples", "bench_hello")
    getitem = os.path.join(TARGET, "release", "examples", "bench_getitem")
    primed = os.path.join(TARGET, "release", "examples", "bench_getitem_primed")
    report = []

    # A user the GET requests find.
    runtime = Runtime()
    process, _ = start(ours, runtime)
    runtime.invoke(event("POST", "/server/user/register", body={"user_id": "bench", "nick": "b"}))
    process.kill(); process.wait(); runtime.close()

    info = lambda: event("GET", "/server/user/info/bench")  # noqa: E731
    rows = []
    functions = [("hello-world lambda_http", hello, None), ("plain SDK GetItem", getitem, None),
                 ("plain SDK GetItem, primed at init", primed, None), ("qnlive-user-api", ours, None)]
    if SECRETS_MANAGER:
        functions.append(("qnlive-user-api, keys read from Secrets Manager (moto) at init", ours,
                          keys_from_secret(SECRETS_MANAGER)))
    for name, binary, extra_env in functions:
        init, first, warm = cold_and_warm(binary, info, extra_env=extra_env)
        rows.append((name, init, first, warm))
    # How much of our init is the deliberate DynamoDB warm-up (its log line).
    warm_ups = []
    for _ in range(STARTS):
        runtime = Runtime()
        process, _ = start(ours, runtime, {"RUST_LOG": "info"})
        process.kill()
        log, _ = process.communicate()
        runtime.close()
        for line in log.splitlines():
            if "ready: DynamoDB connection open" in line:
                warm_ups.append(float(line.split("elapsed_ms=")[1].split()[0]))
    warm_up = statistics.median(warm_ups) if warm_ups else float("nan")
    base_init = rows[0][1]
    report.append(f"### Cold start and first request (median of {STARTS} starts)\n")
    report.append("| function | init ms | × hello init | first request ms | warm request ms | first ÷ warm |")
    report.append("|---|---|---|---|---|---|")
    for name, init, first, warm in rows:
        report.append(f"| {name} | {init:.2f} | {init / base_init:.2f} | {first:.2f} | {warm:.2f} | {first / warm:.2f} |")
    ours_init = next(init for name, init, _, _ in rows if name == "qnlive-user-api")
    report.append(f"\nOf qnlive-user-api's init, the DynamoDB warm-up (the IM-id lease call that opens the "
                  f"connection) takes {warm_up:.2f} ms (median); without it init would be about "
                  f"{ours_init - warm_up:.2f} ms, {(ours_init - warm_up) / base_init:.2f} × hello.")

    # Call counts, memory and batch against singles, on one instance.
    runtime = Runtime()
    process, _ = start(ours, runtime)
    try:
        counts = []
        def counted(label, ev):
            before = snapshot()
            _, reply = runtime.invoke(ev)
            counts.append((label, code_of(reply), calls_since(before)))
        ids = [f"cnt-{i:03d}" for i in range(200)]
        counted("register (IM-id block available)", event("POST", "/server/user/register", body={"user_id": "cnt-single"}))
        counted("update", event("PUT", "/server/user/cnt-single", body={"nick": "n", "extends": {"k": "v"}}))
        counted("info", event("GET", "/server/user/info/cnt-single"))
        counted("profile", event("GET", "/server/user/profile/cnt-single"))
        counted("batch register, 200 users", event("POST", "/server/user/register/batch",
                                                   body=[{"user_id": i} for i in ids]))
        query = "&".join(f"user_ids={i}" for i in ids)
        counted("batch info, 200 ids", event("GET", "/server/user/infos", query))
        counted("batch profile, 200 ids", event("GET", "/server/user/profiles", query))
        report.append("\n### DynamoDB calls per request (counted by the proxy)\n")
        report.append("| request | reply (code, status) | calls |")
        report.append("|---|---|---|")
        for label, code, made in counts:
            report.append(f"| {label} | {code} | {', '.join(f'{k} × {v}' for k, v in sorted(made.items()))} |")

        # 200 single registers against one batch of 200, and the reads.
        singles = [f"s-{i:03d}" for i in range(200)]
        started = time.perf_counter()
        for user_id in singles:
            runtime.invoke(event("POST", "/server/user/register", body={"user_id": user_id}))
        single_writes = time.perf_counter() - started
        started = time.perf_counter()
        runtime.invoke(event("POST", "/server/user/register/batch", body=[{"user_id": f"b-{i:03d}"} for i in range(200)]))
        batch_write = time.perf_counter() - started
        started = time.perf_counter()
        for user_id in singles:
            runtime.invoke(event("GET", f"/server/user/info/{user_id}"))
        single_reads = time.perf_counter() - started
        started = time.perf_counter()
        runtime.invoke(event("GET", "/server/user/infos", "&".join(f"user_ids={u}" for u in singles)))
        batch_read = time.perf_counter() - started
        report.append("\n### 200 users: one batch request against 200 single requests\n")
        report.append("| operation | 200 singles ms | 1 batch ms | batch is × faster |")
        report.append("|---|---|---|---|")
        report.append(f"| register | {single_writes * 1000:.1f} | {batch_write * 1000:.1f} | {single_writes / batch_write:.1f} |")
        report.append(f"| read (info) | {single_reads * 1000:.1f} | {batch_read * 1000:.1f} | {single_reads / batch_read:.1f} |")
        floor_singles, floor_batch = dynamodb_local_floor()
        report.append(f"| register floor: DynamoDB Local alone, 200 PutItem against 8 parallel BatchWriteItem | "
                      f"{floor_singles * 1000:.1f} | {floor_batch * 1000:.1f} | {floor_singles / floor_batch:.1f} |")

        # Memory after 1,000 mixed requests (the 800+ above count too).
        mix = [
            lambda i: event("POST", "/server/user/register", body={"user_id": f"m-{i}", "extends": {"k": str(i)}}),
            lambda i: event("GET", f"/server/user/profile/m-{i - 1}"),
            lambda i: event("PUT", f"/server/user/m-{i - 2}", body={"nick": f"n{i}"}),
            lambda i: event("GET", "/server/user/infos", "&".join(f"user_ids=m-{j}" for j in range(max(0, i - 20), i))),
            lambda i: event("GET", "/server/user/info/nobody"),
        ]
        for i in range(1000):
            runtime.invoke(mix[i % len(mix)](i))
        ours_rss = peak_rss_kb(process)
    finally:
        process.kill(); process.wait(); runtime.close()

    report.extend(maxim_register_cost(ours))

    runtime = Runtime()
    process, _ = start(hello, runtime)
    for _ in range(1000):
        runtime.invoke(info())
    hello_rss = peak_rss_kb(process)
    process.kill(); process.wait(); runtime.close()
    report.append("\n### Peak memory (VmHWM) after 1,000 requests\n")
    report.append("| function | peak RSS |")
    report.append("|---|---|")
    report.append(f"| hello-world lambda_http | {hello_rss / 1024:.1f} MiB |")
    report.append(f"| qnlive-user-api, 1,000 mixed requests after the runs above | {ours_rss / 1024:.1f} MiB |")

    model, _ = lambda_model_report([("plain SDK GetItem", getitem), ("primed at init", primed),
                                    ("qnlive-user-api", ours)], info)
    report.extend(model)
    if SECRETS_MANAGER_TLS:
        report.extend(secrets_at_init_report(ours, info))
    report.extend(endpoint_report(ours))

    text = "\n".join(report) + "\n"
    print(text)
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "last-run.md"), "w") as out:
        out.write(text)


if __name__ == "__main__":
    main()
