"""The largest legal requests against the release bootstrap, held to the
memory Lambda gives it: the function runs under the Lambda Runtime API
stand-in in a cgroup (v1) whose memory limit is the deployed MemorySize,
so that using more is the kernel's out-of-memory kill it would be in
Lambda. Prints the peak for each request and fails if any request goes
unanswered, the function is killed, or the peak passes the budget.

Usage: worst_case_memory.py BOOTSTRAP EVENT_BUILDER MEMORY_MB BUDGET_MB
with USERS_TABLE (already seeded by scripts/worst_case_memory.sh),
AWS_ENDPOINT_URL_DYNAMODB, QNLIVE_AK and QNLIVE_SK in the environment.
Without root or a cgroup v1 memory controller the limit cannot be set:
the peak is then the process's own high-water mark, against the same
budget, and the script says so.
"""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lambda_runtime import Events, Runtime, lambda_environment  # noqa: E402

BOOTSTRAP, EVENT_BUILDER = sys.argv[1], sys.argv[2]
MEMORY_MB, BUDGET_MB = int(sys.argv[3]), int(sys.argv[4])
MIB = 1024 * 1024
CGROUP_ROOT = "/sys/fs/cgroup/memory"
TOO_LARGE = "user_ids: the answer would exceed Lambda's 6 MB reply limit; ask for fewer users at a time"


class MemoryCgroup:
    """A cgroup v1 memory cgroup with a hard limit and no swap."""

    def __init__(self, limit_mb):
        self.path = os.path.join(CGROUP_ROOT, f"qnlive-worst-case-{os.getpid()}")
        os.mkdir(self.path)
        self.write("memory.limit_in_bytes", limit_mb * MIB)
        self.write("memory.swappiness", 0)

    def write(self, name, value):
        with open(os.path.join(self.path, name), "w") as f:
            f.write(str(value))

    def read(self, name):
        with open(os.path.join(self.path, name)) as f:
            return f.read()

    def join(self):
        """Moves the calling process in; run in the child before exec."""
        self.write("cgroup.procs", os.getpid())

    def peak_bytes(self):
        return int(self.read("memory.max_usage_in_bytes"))

    def reset_peak(self):
        self.write("memory.max_usage_in_bytes", 0)

    def oom_kills(self):
        fields = dict(line.split() for line in self.read("memory.oom_control").splitlines())
        return int(fields.get("oom_kill", 0))

    def remove(self):
        os.rmdir(self.path)


def can_limit_memory():
    return os.geteuid() == 0 and os.access(CGROUP_ROOT, os.W_OK)


def high_water_mark_bytes(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def ids(prefix, count):
    return "&".join(f"user_ids={prefix}{n:04}" for n in range(count))


# (what, method, path, query, expected status, expected message or None)
REQUESTS = [
    ("profile of one 266 KB user", "GET", "/server/user/profile/legal0000", "", 200, None),
    ("profiles of 18 users of 266 KB (4.8 MB, fits)", "GET", "/server/user/profiles", ids("legal", 18), 200, None),
    ("profiles of 200 users of 266 KB", "GET", "/server/user/profiles", ids("legal", 200), 400, TOO_LARGE),
    ("infos of 200 users of 266 KB", "GET", "/server/user/infos", ids("legal", 200), 400, TOO_LARGE),
    ("profiles of 200 users of 400 KB (stored before the bound)", "GET", "/server/user/profiles",
     ids("grown", 200), 400, TOO_LARGE),
    ("infos of 200 users of 400 KB (stored before the bound)", "GET", "/server/user/infos",
     ids("grown", 200), 400, TOO_LARGE),
    ("profiles of 18 users of 266 KB, again", "GET", "/server/user/profiles", ids("legal", 18), 200, None),
]


def main():
    limited = can_limit_memory()
    cgroup = MemoryCgroup(MEMORY_MB) if limited else None
    runtime = Runtime()
    events = Events(EVENT_BUILDER, os.environ["QNLIVE_AK"], os.environ["QNLIVE_SK"])
    env = lambda_environment(runtime, MEMORY_MB, {
        "AWS_ENDPOINT_URL_DYNAMODB": os.environ["AWS_ENDPOINT_URL_DYNAMODB"],
        "USERS_TABLE": os.environ["USERS_TABLE"],
        "QINIU_KEYS": f"{os.environ['QNLIVE_AK']}:{os.environ['QNLIVE_SK']}",
    })
    process = subprocess.Popen([BOOTSTRAP], env=env, stdout=subprocess.DEVNULL,
                               preexec_fn=cgroup.join if cgroup else None)
    failures = []
    peaks = []
    try:
        if not runtime.first_poll.wait(timeout=30):
            raise RuntimeError("the function never asked for an event")
        print(f"memory limit: {f'{MEMORY_MB} MB (cgroup v1, enforced)' if limited else 'none (not root or no cgroup v1 memory controller): peak RSS only'}")
        print(f"{'request':<62} {'status':>6} {'ms':>7} {'peak MiB':>9}")
        for what, method, path, query, status, message in REQUESTS:
            if cgroup:
                cgroup.reset_peak()
            try:
                seconds, reply = runtime.invoke(events.event(method, path, query), timeout_s=30)
            except Exception as error:  # the function died or answered nothing
                failures.append(f"{what}: no answer ({error})")
                print(f"{what:<62} {'-':>6} {'-':>7} {'-':>9}")
                break
            peak = cgroup.peak_bytes() if cgroup else high_water_mark_bytes(process.pid)
            peaks.append(peak)
            body = json.loads(reply["body"])
            print(f"{what:<62} {reply['statusCode']:>6} {seconds * 1000:>7.1f} {peak / MIB:>9.1f}")
            if reply["statusCode"] != status or (message and body.get("message") != message):
                failures.append(f"{what}: expected {status} {message or ''}, got {reply['statusCode']} {body}")
        if process.poll() is not None:
            failures.append(f"the function exited (status {process.returncode})")
        if cgroup and cgroup.oom_kills():
            failures.append(f"the kernel killed the function for memory ({cgroup.oom_kills()} OOM kills)")
    finally:
        process.kill()
        process.wait()
        runtime.close()
        events.close()
        if cgroup:
            cgroup.remove()
    worst = max(peaks, default=0)
    print(f"peak: {worst / MIB:.1f} MiB of {MEMORY_MB} MB (budget {BUDGET_MB} MiB)")
    if worst > BUDGET_MB * MIB:
        failures.append(f"peak {worst / MIB:.1f} MiB is over the {BUDGET_MB} MiB budget")
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
