"""Signs requests with the official Qiniu Python SDK (`pip install qiniu`),
exactly as its requests-based client does before sending them.

Reads a JSON list of requests on stdin:
    {"ak", "sk", "method", "url", "headers": {...}, "body": str|null, "with_date": bool}
and writes, for each, what goes on the wire:
    {"path", "query", "headers": {...}, "body": str|null}
The headers include the Host the SDK signed. tests/api/qiniu_sdk.rs turns these
into API Gateway events.
"""

import json
import sys
from urllib.parse import urlsplit

import requests
from qiniu import QiniuMacAuth
from qiniu.auth import QiniuMacRequestsAuth


def sign(spec):
    auth = QiniuMacAuth(spec["ak"], spec["sk"], disable_qiniu_timestamp_signature=not spec["with_date"])
    prepared = requests.Request(
        spec["method"], spec["url"], headers=spec.get("headers") or {}, data=spec.get("body")
    ).prepare()
    QiniuMacRequestsAuth(auth)(prepared)
    url = urlsplit(prepared.url)
    headers = dict(prepared.headers)
    headers.setdefault("Host", url.netloc)
    body = prepared.body
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    return {"path": url.path, "query": url.query, "headers": headers, "body": body}


if __name__ == "__main__":
    json.dump([sign(spec) for spec in json.load(sys.stdin)], sys.stdout)
