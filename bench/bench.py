"""Benchmarks (BENCHMARKS.md): real release bootstraps under a fake Lambda
Runtime API that feeds them signed API Gateway HTTP API (2.0) events, with a
call-counting proxy between the functions and DynamoDB Local.

Usage: bench.py DYNAMODB_URL TARGET_DIR   (scripts/bench.sh sets it all up)
Prints a Markdown report and writes it to bench/last-run.md.
"""

import http.server
import json
import os
import queue
import socketserver
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid

from qiniu import QiniuMacAuth

DYNAMODB = sys.argv[1].rstrip("/")
TARGET = sys.argv[2]
AK, SK = os.environ["QNLIVE_AK"], os.environ["QNLIVE_SK"]
SIGNER = QiniuMacAuth(AK, SK, disable_qiniu_timestamp_signature=True)
TABLE = os.environ["USERS_TABLE"]
STARTS = int(os.environ.get("BENCH_STARTS", "15"))
# moto, when scripts/bench.sh started it: one more row, the keys read at init.
SECRETS_MANAGER = os.environ.get("AWS_ENDPOINT_URL_SECRETSMANAGER")
HOST = "api.example.com"


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

class Runtime:
    """The Lambda Runtime API, one invocation at a time."""

    def __init__(self):
        self.events = queue.Queue()
        self.replies = queue.Queue()
        self.first_poll = threading.Event()
        self.first_poll_at = None
        runtime = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True
            wbufsize = -1

            def log_message(self, *args):
                pass

            def reply(self, status, body=b"", headers=None):
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if not self.path.endswith("/runtime/invocation/next"):
                    return self.reply(404)
                if not runtime.first_poll.is_set():
                    runtime.first_poll_at = time.perf_counter()
                    runtime.first_poll.set()
                request_id, event = runtime.events.get()
                runtime.sent_at = time.perf_counter()
                deadline = int((time.time() + 10) * 1000)
                self.reply(200, json.dumps(event).encode(), {
                    "Lambda-Runtime-Aws-Request-Id": request_id,
                    "Lambda-Runtime-Deadline-Ms": str(deadline),
                    "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:123456789012:function:bench",
                    "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000;Sampled=0",
                    "Content-Type": "application/json",
                })

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.reply(202, b"{}")
                runtime.replies.put((time.perf_counter() - runtime.sent_at, self.path, body))

        self.server = Threaded(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def invoke(self, event):
        self.events.put((str(uuid.uuid4()), event))
        elapsed, path, body = self.replies.get(timeout=60)
        if not path.endswith("/response"):
            raise RuntimeError(f"invocation failed: {path} {body[:300]!r}")
        return elapsed, json.loads(body)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------- events

# Events come from the test suite's own builder (tests/api/helpers/event.rs),
# through examples/api_gateway_event.rs: one builder for tests, fuzz targets
# and benchmarks.
EVENT_BUILDER = subprocess.Popen([os.path.join(TARGET, "release", "examples", "api_gateway_event")],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def event(method, path, query="", body=None):
    headers = {"host": HOST}
    raw_body = json.dumps(body) if body is not None else None
    if raw_body is not None:
        headers["content-type"] = "application/json"
    url = f"https://{HOST}{path}" + (f"?{query}" if query else "")
    token = SIGNER.token_of_request(method, HOST, url, "", headers.get("content-type"), raw_body)
    headers["authorization"] = f"Qiniu {token}"
    request = {"method": method, "path": path, "query": query, "headers": list(headers.items()),
               "body": raw_body, "request_id": str(uuid.uuid4())}
    EVENT_BUILDER.stdin.write(json.dumps(request) + "\n")
    EVENT_BUILDER.stdin.flush()
    return json.loads(EVENT_BUILDER.stdout.readline())


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
    env = {
        "PATH": os.environ["PATH"],
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{runtime.port}",
        "AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "AWS_LAMBDA_LOG_GROUP_NAME": "bench",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench", "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_ENDPOINT_URL_DYNAMODB": PROXY, "USERS_TABLE": TABLE, "QINIU_KEYS": f"{AK}:{SK}",
        "RUST_LOG": "warn",
    }
    # Debian keeps one file per certificate beside the bundle, and
    # rustls-native-certs reads both (about 300 files); Lambda's AL2023 keeps
    # the bundle only. Pointing at the bundle makes local starts load what a
    # Lambda loads, for every function measured.
    if os.path.exists("/etc/ssl/certs/ca-certificates.crt"):
        env["SSL_CERT_FILE"] = "/etc/ssl/certs/ca-certificates.crt"
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


def keys_from_secret():
    """The keys in a secret of the local Secrets Manager, and the function's
    variables that name it instead of giving them, as the template deploys it."""
    import boto3
    name = f"bench/keys-{uuid.uuid4()}"
    boto3.client("secretsmanager", endpoint_url=SECRETS_MANAGER, region_name="us-east-1",
                 aws_access_key_id="local", aws_secret_access_key="local").create_secret(
        Name=name, SecretString=f"{AK}:{SK}")
    return {"QINIU_KEYS": None, "QINIU_KEYS_SECRET_ID": name, "AWS_ENDPOINT_URL_SECRETSMANAGER": SECRETS_MANAGER}


def main():
    global PROXY
    proxy = Threaded(("127.0.0.1", 0), CountingProxy)
    PROXY = f"http://127.0.0.1:{proxy.server_address[1]}"
    threading.Thread(target=proxy.serve_forever, daemon=True).start()

    ours = os.path.join(TARGET, "release", "qnlive-user-api")
    hello = os.path.join(TARGET, "release", "examples", "bench_hello")
    getitem = os.path.join(TARGET, "release", "examples", "bench_getitem")
    report = []

    # A user the GET requests find.
    runtime = Runtime()
    process, _ = start(ours, runtime)
    runtime.invoke(event("POST", "/server/user/register", body={"user_id": "bench", "nick": "b"}))
    process.kill(); process.wait(); runtime.close()

    info = lambda: event("GET", "/server/user/info/bench")  # noqa: E731
    rows = []
    functions = [("hello-world lambda_http", hello, None), ("plain SDK GetItem", getitem, None),
                 ("qnlive-user-api", ours, None)]
    if SECRETS_MANAGER:
        functions.append(("qnlive-user-api, keys read from Secrets Manager (moto) at init", ours, keys_from_secret()))
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
    ours_init = rows[2][1]
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

    text = "\n".join(report) + "\n"
    print(text)
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "last-run.md"), "w") as out:
        out.write(text)


if __name__ == "__main__":
    main()
