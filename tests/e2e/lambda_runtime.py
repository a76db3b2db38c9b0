"""A stand-in for the Lambda Runtime API, so that the real bootstrap runs
here as it runs in Lambda: started with Lambda's environment, it polls
`/runtime/invocation/next`, gets an event, and posts the response back.

Events are the test suite's own API Gateway HTTP API (2.0) events
(test-support/src/event.rs through examples/api_gateway_event), signed
with the official Qiniu Python SDK.
"""

import http.server
import json
import os
import queue
import socketserver
import subprocess
import sys
import threading
import time
import uuid

from qiniu import QiniuMacAuth

HOST = "api.example.com"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:qnlive-user-api"


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # A function stopped at the end of a run drops its connection.
        if not isinstance(sys.exc_info()[1], ConnectionResetError):
            super().handle_error(request, client_address)


class Runtime:
    """The Runtime API on a free loopback port, one invocation at a time."""

    def __init__(self, deadline_s=10):
        self.events = queue.Queue()
        self.replies = queue.Queue()
        self.first_poll = threading.Event()
        self.first_poll_at = None
        # How often the function has asked for an event: the moment it asks
        # again, it has finished the last one (benchmarks read its CPU then).
        self.polls = 0
        self.polled = threading.Condition()
        runtime = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True
            wbufsize = -1

            def log_message(self, *args):
                pass

            def reply(self, status, body=b"", headers=None):
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if not self.path.endswith("/runtime/invocation/next"):
                    return self.reply(404)
                if not runtime.first_poll.is_set():
                    runtime.first_poll_at = time.perf_counter()
                    runtime.first_poll.set()
                with runtime.polled:
                    runtime.polls += 1
                    runtime.polled.notify_all()
                request_id, event = runtime.events.get()
                runtime.sent_at = time.perf_counter()
                self.reply(200, json.dumps(event).encode(), {
                    "Lambda-Runtime-Aws-Request-Id": request_id,
                    "Lambda-Runtime-Deadline-Ms": str(int((time.time() + deadline_s) * 1000)),
                    "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
                    "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000;Sampled=0",
                    "Content-Type": "application/json",
                })

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.reply(202, b"{}")
                runtime.replies.put((time.perf_counter() - runtime.sent_at, self.path, body))

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def invoke(self, event, timeout_s=60):
        """Hands `event` to the function; returns (seconds, API Gateway reply).
        Raises if the function reported an error or did not answer."""
        self.events.put((str(uuid.uuid4()), event))
        elapsed, path, body = self.replies.get(timeout=timeout_s)
        if not path.endswith("/response"):
            raise RuntimeError(f"invocation failed: {path} {body[:300]!r}")
        return elapsed, json.loads(body)

    def wait_for_poll(self, count, timeout_s=30):
        """Waits until the function has asked for its `count`th event."""
        with self.polled:
            if not self.polled.wait_for(lambda: self.polls >= count, timeout_s):
                raise RuntimeError("the function did not ask for the next event")

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def lambda_environment(runtime, memory_mb, extra):
    """What Lambda sets for a function, plus `extra`."""
    env = {
        "PATH": os.environ["PATH"],
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{runtime.port}",
        "AWS_LAMBDA_FUNCTION_NAME": "qnlive-user-api", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb), "AWS_LAMBDA_LOG_GROUP_NAME": "qnlive-user-api",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local", "AWS_REGION": os.environ.get("AWS_REGION", "us-east-1"),
        "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "RUST_LOG": "warn",
    }
    # Lambda's AL2023 has the CA bundle only; Debian also has one file per
    # certificate, which rustls-native-certs would read too.
    if os.path.exists("/etc/ssl/certs/ca-certificates.crt"):
        env["SSL_CERT_FILE"] = "/etc/ssl/certs/ca-certificates.crt"
    env.update(extra)
    return env


class Events:
    """Signed API Gateway events from the test suite's event builder."""

    def __init__(self, builder, ak, sk):
        self.signer = QiniuMacAuth(ak, sk, disable_qiniu_timestamp_signature=True)
        self.builder = subprocess.Popen([builder], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def event(self, method, path, query="", body=None):
        headers = {"host": HOST}
        raw_body = json.dumps(body) if body is not None else None
        if raw_body is not None:
            headers["content-type"] = "application/json"
        url = f"https://{HOST}{path}" + (f"?{query}" if query else "")
        token = self.signer.token_of_request(method, HOST, url, "", headers.get("content-type"), raw_body)
        headers["authorization"] = f"Qiniu {token}"
        request = {"method": method, "path": path, "query": query, "headers": list(headers.items()),
                   "body": raw_body, "request_id": str(uuid.uuid4())}
        self.builder.stdin.write(json.dumps(request) + "\n")
        self.builder.stdin.flush()
        return json.loads(self.builder.stdout.readline())

    def close(self):
        self.builder.stdin.close()
        self.builder.wait()
