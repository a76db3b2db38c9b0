#!/usr/bin/env python3
"""Sends one request signed with the official Qiniu Python SDK and prints
the reply, for trying the API by hand.

    qiniu_request.py METHOD URL [JSON_BODY]

The key pair comes from QNLIVE_AK / QNLIVE_SK, by default the development
pair in scripts/dev-keys.env that scripts/run.sh serves with. Repeat a query key for lists:
    qiniu_request.py GET 'http://127.0.0.1:9000/server/user/infos?user_ids=a&user_ids=b'
Needs `pip install qiniu` (scripts/run.sh installs it in its virtualenv).
"""

import json
import os
import sys

import requests
from qiniu import QiniuMacAuth
from qiniu.auth import QiniuMacRequestsAuth


def dev_keys():
    """The development pair from scripts/dev-keys.env, unless QNLIVE_AK / QNLIVE_SK are set."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dev-keys.env")
    pairs = dict(line.strip().split("=", 1) for line in open(path) if "=" in line and not line.startswith("#"))
    return (os.environ.get("QNLIVE_AK", pairs["QNLIVE_DEV_AK"]), os.environ.get("QNLIVE_SK", pairs["QNLIVE_DEV_SK"]))


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    method, url = sys.argv[1].upper(), sys.argv[2]
    body = sys.argv[3] if len(sys.argv) == 4 else None
    auth = QiniuMacAuth(*dev_keys())
    headers = {"Content-Type": "application/json"} if body is not None else {}
    reply = requests.request(method, url, data=body, headers=headers, auth=QiniuMacRequestsAuth(auth), timeout=30)
    print(f"HTTP {reply.status_code}  X-Reqid: {reply.headers.get('X-Reqid')}")
    try:
        print(json.dumps(reply.json(), ensure_ascii=False, indent=2))
    except ValueError:
        print(reply.text)


if __name__ == "__main__":
    main()
