"""A bounded load test through the local server: mixed signed requests at a
fixed concurrency, then a check that every successful write is readable.

Usage: load.py BASE_URL [REQUESTS] [CONCURRENCY]   (defaults 5000, 32)
Keys from QNLIVE_AK / QNLIVE_SK. scripts/load_test.sh starts everything.
Exit status 1 on any 5xx, any non-envelope reply, or any lost write.
"""

import json
import os
import random
import statistics
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests
from qiniu import QiniuMacAuth
from qiniu.auth import QiniuMacRequestsAuth

BASE = sys.argv[1].rstrip("/")
TOTAL = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
CONCURRENCY = int(sys.argv[3]) if len(sys.argv) > 3 else 32
AUTH = QiniuMacRequestsAuth(QiniuMacAuth(os.environ["QNLIVE_AK"], os.environ["QNLIVE_SK"]))
RUN = uuid.uuid4().hex[:6]

local = threading.local()
lock = threading.Lock()
registered = []  # user ids whose register answered 200
nicks = {}  # user id -> last nick an update set with 200 (single writer per id)
statuses = {}
latencies = []
problems = []


def session():
    if not hasattr(local, "session"):
        local.session = requests.Session()
    return local.session


def call(method, path, body=None, params=None):
    headers = {"Content-Type": "application/json"} if body is not None else {}
    data = json.dumps(body) if body is not None else None
    started = time.perf_counter()
    reply = session().request(method, BASE + path, data=data, params=params, headers=headers, auth=AUTH, timeout=60)
    elapsed = time.perf_counter() - started
    try:
        envelope = reply.json()
        assert envelope["request_id"] == reply.headers["X-Reqid"] and "code" in envelope and "message" in envelope
    except Exception:
        envelope = None
        with lock:
            problems.append(f"{method} {path}: not an envelope: {reply.status_code} {reply.text[:200]!r}")
    with lock:
        statuses[reply.status_code] = statuses.get(reply.status_code, 0) + 1
        latencies.append(elapsed)
        if reply.status_code >= 500:
            problems.append(f"{method} {path}: {reply.status_code} {reply.text[:200]!r}")
    return reply.status_code, envelope


def known_ids(n):
    with lock:
        return random.sample(registered, min(n, len(registered))) if registered else []


def one(i):
    kind = random.random()
    if kind < 0.35 or len(registered) < 20:
        user_id = f"load-{RUN}-{i}"
        status, _ = call("POST", "/server/user/register", {"user_id": user_id, "nick": f"n{i}"})
        if status == 200:
            with lock:
                registered.append(user_id)
                nicks[user_id] = f"n{i}"
    elif kind < 0.45:
        users = [{"user_id": f"load-{RUN}-{i}-{j}", "nick": f"b{i}"} for j in range(20)]
        status, envelope = call("POST", "/server/user/register/batch", users)
        if status == 200:
            failed = (envelope or {}).get("data") or {}
            with lock:
                for user in users:
                    if user["user_id"] not in failed:
                        registered.append(user["user_id"])
                        nicks[user["user_id"]] = user["nick"]
    elif kind < 0.55:
        # Each update goes to a user no other request updates, so the last
        # nick is known.
        user_id = f"load-{RUN}-{i}-u"
        if call("POST", "/server/user/register", {"user_id": user_id})[0] == 200:
            nick = f"updated{i}"
            status, _ = call("PUT", f"/server/user/{user_id}", {"nick": nick, "extends": {"i": str(i)}})
            with lock:
                registered.append(user_id)
                nicks[user_id] = nick if status == 200 else ""
    elif kind < 0.75:
        for user_id in known_ids(1):
            call("GET", f"/server/user/info/{user_id}")
    elif kind < 0.85:
        for user_id in known_ids(1):
            call("GET", f"/server/user/profile/{user_id}")
    else:
        ids = known_ids(10)
        if ids:
            path = "/server/user/infos" if kind < 0.93 else "/server/user/profiles"
            call("GET", path, params={"user_ids": ids})


def verify():
    """Every successful write is readable, with the last nick it was given
    and an IM id of its own."""
    lost = 0
    im_ids = {}
    for start in range(0, len(registered), 100):
        chunk = registered[start:start + 100]
        status, envelope = call("GET", "/server/user/profiles", params={"user_ids": chunk})
        if status != 200:
            problems.append(f"verification read failed: {status}")
            return
        found = {u["user_id"]: u for u in envelope["data"]}
        for user_id in chunk:
            if user_id not in found:
                lost += 1
                problems.append(f"lost: {user_id}")
            else:
                user = found[user_id]
                if nicks.get(user_id) and user["nick"] != nicks[user_id]:
                    problems.append(f"{user_id}: nick {user['nick']!r}, expected {nicks[user_id]!r}")
                other = im_ids.setdefault(user["im_userid"], user_id)
                if other != user_id:
                    problems.append(f"{user_id} and {other} share im_userid {user['im_userid']}")
    return lost


if __name__ == "__main__":
    random.seed(int(os.environ.get("LOAD_SEED", "1")))
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        list(pool.map(one, range(TOTAL)))
    wall = time.perf_counter() - started
    sent = sum(statuses.values())
    lost = verify()
    ordered = sorted(latencies)
    print(f"requests: {sent} in {wall:.1f} s ({sent / wall:.0f}/s) at concurrency {CONCURRENCY}")
    print(f"statuses: {dict(sorted(statuses.items()))}")
    print(f"latency ms: p50 {1000 * statistics.median(ordered):.1f}, "
          f"p99 {1000 * ordered[int(len(ordered) * 0.99) - 1]:.1f}, max {1000 * ordered[-1]:.1f}")
    print(f"writes checked: {len(registered)} users, lost: {lost}")
    for problem in problems[:20]:
        print("PROBLEM", problem)
    print(f"{'0 failed' if not problems else f'{len(problems)} problems'}")
    sys.exit(1 if problems else 0)
