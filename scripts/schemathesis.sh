#!/usr/bin/env bash
# Checks openapi.yaml, then checks the service at BASE_URL against it.
#
#  1. openapi-spec-validator: the file is valid OpenAPI 3.1.
#  2. Every example in it (requests and replies) matches its own schema, so
#     that the examples, captured from real replies, cannot drift.
#  3. Schemathesis, all phases (examples, coverage, fuzzing, stateful along
#     the spec's links: register -> info/profile/update/infos/profiles)
#     with its default checks: no 5xx, documented status codes, content
#     types and headers, replies matching their schemas, valid input
#     accepted, invalid input rejected, authentication enforced (unsigned
#     and badly signed copies must get 401), 405 with `Allow` for other
#     methods. Every request is signed by the official Qiniu Python SDK
#     (tests/e2e/schemathesis_hooks.py, which also says which generated
#     cases are dropped and why).
#
# Usage: scripts/schemathesis.sh BASE_URL
#   e.g. scripts/schemathesis.sh http://127.0.0.1:9000 with scripts/run.sh serving.
# Environment: QNLIVE_AK / QNLIVE_SK (default: the development pair);
# SCHEMATHESIS_MAX_EXAMPLES (default 100: cases per operation and phase;
# 35-70 s against a debug build on 2 cores); SCHEMATHESIS_SEED to replay a run (the seed
# is printed at the end of each); SCHEMATHESIS_REPORT_DIR for a JUnit report.
#
# Schemathesis runs in a temporary directory with its cache off: nothing is
# written into the checkout, where a new file would make `cargo lambda
# watch` restart the function in the middle of the run.

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$PROJECT_DIR" || exit

BASE_URL="${1:?usage: scripts/schemathesis.sh BASE_URL}"
# Both tools, pinned in scripts/lib.sh, come with ensure_python_tools.
if [ "${QNLIVE_INSIDE_NETNS:-}" != "1" ]; then
    ensure_python_tools
fi

log "validating openapi.yaml (openapi-spec-validator $OPENAPI_SPEC_VALIDATOR_VERSION) and its examples"
"$VENV_DIR/bin/openapi-spec-validator" openapi.yaml
"$VENV_DIR/bin/python" - openapi.yaml <<'PY'
"""Each example in the spec must match the schema beside it."""
import json
import sys

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

spec = yaml.safe_load(open(sys.argv[1], encoding="utf-8"))
registry = Registry().with_resource("urn:spec", Resource(contents=spec, specification=DRAFT202012))


def deref(node):
    """Follows a local `$ref` (responses, request bodies, examples)."""
    while isinstance(node, dict) and "$ref" in node:
        target = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def check(where, media):
    if "schema" not in media:
        return 0
    schema = json.loads(json.dumps(media["schema"]).replace('"#/components/', '"urn:spec#/components/'))
    validator = jsonschema.Draft202012Validator(schema, registry=registry)
    examples = [("example", media["example"])] if "example" in media else []
    examples += [(name, deref(example)["value"]) for name, example in media.get("examples", {}).items()]
    for name, value in examples:
        for error in validator.iter_errors(value):
            sys.exit(f"openapi.yaml: {where}, example {name!r}: {error.message}")
    return len(examples)


count = 0
for path, item in spec["paths"].items():
    for method, operation in item.items():
        if method == "parameters":
            continue
        body = deref(operation.get("requestBody", {}))
        for media in body.get("content", {}).values():
            count += check(f"{method.upper()} {path} request", media)
        for status, reply in operation["responses"].items():
            for media in deref(reply).get("content", {}).values():
                count += check(f"{method.upper()} {path} {status}", media)
for name, reply in spec["components"]["responses"].items():
    for media in reply.get("content", {}).values():
        count += check(f"components/responses/{name}", media)
print(f"openapi.yaml: {count} examples match their schemas")
PY

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat >"$work/schemathesis.toml" <<'TOML'
# No cache and no example database: every run starts fresh, leaves nothing.
[cache]
enabled = false

[generation]
database = "none"

# Only the spec's own links: an inferred link reuses a path parameter as it
# was sent, percent-encoded, and Schemathesis then encodes it a second time.
[phases.stateful.inference]
algorithms = []
TOML

options=(--url "$BASE_URL" --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-100}" --request-timeout 15 --no-color)
if [ -n "${SCHEMATHESIS_SEED:-}" ]; then
    options+=(--seed "$SCHEMATHESIS_SEED")
fi
if [ -n "${SCHEMATHESIS_REPORT_DIR:-}" ]; then
    mkdir -p "$SCHEMATHESIS_REPORT_DIR"
    options+=(--report junit --report-dir "$(cd "$SCHEMATHESIS_REPORT_DIR" && pwd)")
fi

log "schemathesis $SCHEMATHESIS_VERSION against $BASE_URL"
cd "$work" || exit
SCHEMATHESIS_HOOKS="$PROJECT_DIR/tests/e2e/schemathesis_hooks.py" \
QNLIVE_AK="${QNLIVE_AK:-$QNLIVE_DEV_AK}" QNLIVE_SK="${QNLIVE_SK:-$QNLIVE_DEV_SK}" \
    "$VENV_DIR/bin/schemathesis" --config-file "$work/schemathesis.toml" \
    run "$PROJECT_DIR/openapi.yaml" "${options[@]}"
