"""Schemathesis hooks for scripts/schemathesis.sh (Schemathesis 4.x).

1. Every request is signed with the official Qiniu Python SDK's own
   `requests` auth, `QiniuMacRequestsAuth(QiniuMacAuth(AK, SK))`, keys from
   QNLIVE_AK / QNLIVE_SK. `requests` calls it on the final prepared request,
   after Schemathesis has set the URL, headers and body, so the signature
   covers exactly what is sent (plus the `X-Qiniu-Date` the SDK adds and
   signs). It is registered as Schemathesis' auth rather than as a fixed
   header, so that the `ignored_auth` check can resend a request unsigned
   and with a made-up token and expect 401.

2. Rules that OpenAPI cannot state, applied to generated cases:

   - `GET /server/user/infos` and `/profiles` take the ids from the
     `user_ids` query or, when the query has none, from the JSON array body:
     one of the two is needed, and a body next to the query is ignored.
     A positive case with neither is not valid, so it is dropped. A case
     that makes one of the two invalid on purpose gets the other removed,
     so that the server reads the invalid one (a negative body next to a
     valid query would be ignored, correctly, and the check would blame
     the server).
   - An update body may repeat the path's `user_id` but not hold another.
   - The ids `.` and `..` cannot travel in a path: URL clients (requests
     here) remove such dot segments (RFC 3986), so `/server/user/info/..`
     leaves as `/server/user/`. Such users are read with the batch
     endpoints; path cases with them are dropped.
   - A body that is not UTF-8 cannot be tested through this harness:
     `cargo lambda watch` answers it with its own 500 (text/plain) before
     the function runs (API Gateway base64-encodes such a body, and
     tests/bad_input.rs proves the function answers it with a 400), and
     the Qiniu SDK cannot sign it (it decodes the body as UTF-8).
"""

import os

import schemathesis
from qiniu import QiniuMacAuth
from qiniu.auth import QiniuMacRequestsAuth
from schemathesis.core import NOT_SET
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation import GenerationMode

schemathesis.auth.set_from_requests(
    QiniuMacRequestsAuth(QiniuMacAuth(os.environ["QNLIVE_AK"], os.environ["QNLIVE_SK"]))
)

BATCH_GET_PATHS = {"/server/user/infos", "/server/user/profiles"}


def _has_body(case):
    return case.body is not NOT_SET and case.body is not None


def _is_negative_at(case, location):
    return case.meta is not None and case.meta.is_negative_at(location)


def _is_positive(case):
    return case.meta is None or case.meta.generation.mode == GenerationMode.POSITIVE


def _drop_body(case):
    case.body = NOT_SET
    case.media_type = None


def _is_user_id(value):
    """The spec's UserId: 1..=64 characters, none of them a control character."""
    return 1 <= len(value) <= 64 and not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value)


def _is_dot_segment(path_parameters):
    return isinstance(path_parameters, dict) and path_parameters.get("user_id") in (".", "..")


@schemathesis.hook
def filter_case(context, case):
    if _is_dot_segment(case.path_parameters):
        return False
    if isinstance(case.body, (bytes, bytearray)):
        try:
            bytes(case.body).decode("utf-8")
        except UnicodeDecodeError:
            return False
    if case.operation.path in BATCH_GET_PATHS:
        query = case.query if isinstance(case.query, dict) else {}
        if _is_positive(case):
            return bool(query.get("user_ids")) or _has_body(case)
        ids = query.get("user_ids")
        # A lone value where the spec wants an array is no violation on the
        # wire: `user_ids=a` is the form of ["a"] too.
        if _is_negative_at(case, ParameterLocation.QUERY) and isinstance(ids, (str, int, float, bool)):
            return not _is_user_id(str(ids))
    return True


@schemathesis.hook
def filter_path_parameters(context, path_parameters):
    return not _is_dot_segment(path_parameters)


@schemathesis.hook
def map_case(context, case):
    if case.operation.path == "/server/user/{user_id}":
        # An update body may repeat the path's user_id, never another one
        # (400); the spec leaves the field out, so a generated extra
        # property of that name is dropped from valid cases.
        if _is_positive(case) and isinstance(case.body, dict):
            case.body.pop("user_id", None)
        return case
    if case.operation.path not in BATCH_GET_PATHS:
        return case
    query = case.query if isinstance(case.query, dict) else None
    if _is_negative_at(case, ParameterLocation.BODY) and query is not None:
        query.pop("user_ids", None)
    elif _is_negative_at(case, ParameterLocation.QUERY):
        _drop_body(case)
    return case
