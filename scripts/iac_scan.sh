#!/usr/bin/env bash
# The IaC security scan of template.yaml, as operators run it: checkov
# (pinned in scripts/lib.sh), offline. It fails on any failed check, on a
# template it cannot parse, and on a check skipped without its reason
# (`Metadata: checkov: skip:` with a `comment` of a sentence or more).
#
# Offline: BC_SKIP_MAPPING=TRUE and --skip-download keep checkov from asking
# its vendor's API for guidelines and policies; --framework cloudformation
# keeps it from probing other tools (kubectl, helm) it would otherwise run.
#
# Usage: scripts/iac_scan.sh [TEMPLATE]   (default template.yaml)

# shellcheck source=scripts/lib.sh
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$PROJECT_DIR" || exit 1
ensure_checkov
template="${1:-template.yaml}"

report="$(mktemp)"
trap 'rm -f "$report"' EXIT
# Its exit status says less than the report, read below.
BC_SKIP_MAPPING=TRUE "$CHECKOV" --file "$template" --framework cloudformation \
    --skip-download --output json >"$report" 2>/dev/null || true
python3 - "$template" "$report" <<'PYTHON'
import json, sys
with open(sys.argv[2]) as file:
    text = file.read()
report = json.loads(text) if text.strip() else {}
if not report.get("summary"):
    sys.exit(f"checkov gave no report for {sys.argv[1]}")
summary, results = report["summary"], report["results"]
print(f"checkov {summary['checkov_version']} on {sys.argv[1]}: {summary['passed']} passed, "
      f"{summary['failed']} failed, {summary['skipped']} skipped")
problems = []
for check in results.get("failed_checks", []):
    problems.append(f"FAILED {check['check_id']} {check['check_name']} ({check['resource']})")
for check in results.get("skipped_checks", []):
    reason = (check["check_result"].get("suppress_comment") or "").strip()
    print(f"  skipped {check['check_id']} ({check['resource']}): {reason}")
    if len(reason) < 40:
        problems.append(f"skipped without a reason: {check['check_id']} ({check['resource']})")
if summary["parsing_errors"]:
    problems.append(f"{summary['parsing_errors']} parsing errors")
for problem in problems:
    print(problem, file=sys.stderr)
sys.exit(1 if problems else 0)
PYTHON
