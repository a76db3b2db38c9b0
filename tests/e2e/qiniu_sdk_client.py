"""End to end: the official Qiniu Python SDK's own HTTP client (qiniu.http)
against the function served by `cargo lambda watch`, as a customer's code
would call it. Every endpoint, checked against the contract's replies.

Usage: qiniu_sdk_client.py BASE_URL
The key pair comes from QNLIVE_AK / QNLIVE_SK (scripts/test.sh passes the
development pair from scripts/dev-keys.env). scripts/test.sh runs this after cargo test.
"""

import json
import os
import sys
import time
import uuid

import requests
from qiniu import QiniuMacAuth
from qiniu import http as qiniu_http

BASE = sys.argv[1].rstrip("/")
AK, SK = os.environ["QNLIVE_AK"], os.environ["QNLIVE_SK"]
AUTH = QiniuMacAuth(AK, SK)  # signs X-Qiniu-Date, the SDK's default
JSON = {"Content-Type": "application/json"}
RUN = uuid.uuid4().hex[:8]  # lets the script run twice against one table

passed, failed = 0, 0


def uid(name):
    return f"{name}_{RUN}"


def envelope(info):
    """The reply body, checked to be the contract's envelope."""
    body = json.loads(info.text_body)
    assert set(body) <= {"request_id", "code", "message", "data"}, body
    assert body["request_id"] and body["request_id"] == info.req_id, (body, info.req_id)
    return body


def post(path, payload, auth=AUTH):
    return qiniu_http._post_with_qiniu_mac_and_headers(BASE + path, json.dumps(payload), auth, JSON)[1]


def put(path, payload):
    return qiniu_http._put_with_qiniu_mac_and_headers(BASE + path, json.dumps(payload), AUTH, JSON)[1]


def get(path, params=None, auth=AUTH):
    return qiniu_http._get_with_qiniu_mac(BASE + path, params, auth)[1]


def expect(info, status, code, message=None):
    body = envelope(info)
    assert (info.status_code, body["code"]) == (status, code), (info.status_code, body)
    if message is not None:
        assert body["message"] == message, body
    return body


def check(name, test):
    global passed, failed
    try:
        test()
        passed += 1
        print(f"ok - {name}")
    except Exception as error:  # report every failure, then fail the run
        failed += 1
        print(f"FAILED - {name}: {error!r}")


def wait_until_served():
    deadline = time.time() + 300
    while time.time() < deadline:
        try:
            requests.get(BASE + "/server/user/info/probe", timeout=5)
            return
        except requests.RequestException:
            time.sleep(0.5)
    sys.exit(f"nothing answered at {BASE} within 300 s")


def register():
    body = expect(post("/server/user/register", {"user_id": uid("u1"), "nick": "用户", "avatar": "http://x/a.png",
                                                  "extends": {"age": "18"}}), 200, 0, "success")
    assert "data" not in body, body


def register_existing():
    expect(post("/server/user/register", {"user_id": uid("u1")}), 409, 10001, "user already exists")


def register_batch():
    users = [{"user_id": uid("u2")}, {"user_id": uid("u3"), "nick": "three"}, {"user_id": uid("u1")},
             {"user_id": uid("u2")}]
    body = expect(post("/server/user/register/batch", users), 200, 0, "success")
    assert body["data"] == {
        uid("u1"): "user already exists",
        uid("u2"): "repeated in this request: only its first occurrence was registered",
    }, body


def update():
    expect(put("/server/user/" + uid("u1"), {"nick": "new", "avatar": "", "extends": {"k2": "v2"}}), 200, 0)


def info():
    data = expect(get("/server/user/info/" + uid("u1")), 200, 0)["data"]
    im_userid = data.pop("im_userid")
    assert isinstance(im_userid, int) and im_userid > 0, im_userid
    assert data == {"user_id": uid("u1"), "nick": "new", "avatar": "http://x/a.png",
                    "extends": {"age": "18", "k2": "v2"}}, data


def infos():
    params = {"user_ids": [uid("u3"), uid("u1"), uid("ghost"), uid("u3")]}
    data = expect(get("/server/user/infos", params), 200, 0)["data"]
    assert [u["user_id"] for u in data] == [uid("u3"), uid("u1")], data
    assert all("im_password" not in u for u in data), data


def profile():
    data = expect(get("/server/user/profile/" + uid("u2")), 200, 0)["data"]
    assert data["im_username"] == "ql" + uid("u2"), data
    assert len(data["im_password"]) >= 16, data
    assert data["nick"] == "" and data["avatar"] == "" and data["extends"] == {}, data


def profiles():
    data = expect(get("/server/user/profiles", {"user_ids": [uid("u2"), uid("u3")]}), 200, 0)["data"]
    assert [u["user_id"] for u in data] == [uid("u2"), uid("u3")], data
    assert len({u["im_userid"] for u in data}) == 2, data


def without_timestamp():
    auth = QiniuMacAuth(AK, SK, disable_qiniu_timestamp_signature=True)
    expect(get("/server/user/info/" + uid("u1"), auth=auth), 200, 0)


def errors():
    expect(get("/server/user/info/" + uid("nobody")), 404, 404, "user not found")
    expect(get("/server/user/info/" + uid("u1"), auth=QiniuMacAuth(AK, "wrong-secret")), 401, 401, "bad token")
    expect(post("/server/user/register", {"user_id": ""}), 400, 400, "user_id: must not be empty")
    expect(get("/server/user/register/batch"), 405, 405)
    expect(get("/server/user/nowhere/at/all"), 404, 404)


if __name__ == "__main__":
    wait_until_served()
    for name, test in [
        ("register", register),
        ("register an existing user", register_existing),
        ("batch register reports existing and repeated ids", register_batch),
        ("update", update),
        ("info", info),
        ("batch info", infos),
        ("profile", profile),
        ("batch profile", profiles),
        ("signature without X-Qiniu-Date", without_timestamp),
        ("error replies", errors),
    ]:
        check(name, test)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
