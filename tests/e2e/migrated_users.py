"""End to end after a MySQL import: scripts/test.sh loads a
generated live_users table (tests/import/gen_dataset.py), imports it with
qnlive-user-import, and serves the function on that table with
`cargo lambda watch`. Signed with the official Qiniu Python SDK, as in
qiniu_sdk_client.py (whose helpers this reuses), this checks that:

- every migrated user is served with the profile and the IM credentials
  it had (single and batch reads), unicode and 2^62-1 IM ids included;
- rows that were not imported (deleted, invalid) are unknown users;
- a migrated user can be updated, and registering it again is a 409;
- a user registered now gets an IM id above every imported one.

Usage: migrated_users.py BASE_URL EXPECTED_JSON (the generator's --expected)
"""

import json
import os
import sys
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qiniu_sdk_client as sdk  # noqa: E402  (BASE from argv[1], the key pair, the helpers)

with open(sys.argv[2], encoding="utf-8") as f:
    ROWS = json.load(f)["rows"]
IMPORTED = [row for row in ROWS if row["class"] == "imported"]
MAX_IMPORTED_IM_USERID = max(row["user"]["im_userid"] for row in IMPORTED)
PROFILE_FIELDS = ["user_id", "nick", "avatar", "extends", "im_userid", "im_username", "im_password"]


def path_of(user_id):
    return quote(user_id, safe="")


def expected_profile(row):
    return {field: row["user"][field] for field in PROFILE_FIELDS}


def named_cases():
    """Every imported edge case of the catalogue (not the filler)."""
    return [row for row in IMPORTED if row["case"] != "filler" and not row["case"].startswith("null-mask")]


def profiles_one_by_one():
    cases = named_cases()
    assert len(cases) > 40, len(cases)
    for row in cases:
        data = sdk.expect(sdk.get("/server/user/profile/" + path_of(row["user"]["user_id"])), 200, 0)["data"]
        assert data == expected_profile(row), (row["case"], data)


def profiles_in_batches():
    for start in range(0, len(IMPORTED), 200):
        rows = IMPORTED[start:start + 200]
        params = {"user_ids": [row["user"]["user_id"] for row in rows]}
        data = sdk.expect(sdk.get("/server/user/profiles", params), 200, 0)["data"]
        assert data == [expected_profile(row) for row in rows], data


def info_has_no_credentials():
    row = next(r for r in IMPORTED if r["user"]["im_userid"] == MAX_IMPORTED_IM_USERID)
    data = sdk.expect(sdk.get("/server/user/info/" + path_of(row["user"]["user_id"])), 200, 0)["data"]
    assert data == {k: row["user"][k] for k in ["user_id", "nick", "avatar", "im_userid", "extends"]}, data


def rows_not_imported_are_unknown():
    gone = [row for row in ROWS if row["class"] == "skipped_deleted" and row["case"] == "deleted unicode"]
    assert gone, "the dataset has no deleted unicode user"
    sdk.expect(sdk.get("/server/user/info/" + path_of("已删除😀")), 404, 404, "user not found")


def migrated_users_can_be_updated_not_registered_again():
    row = named_cases()[0]
    user_id = row["user"]["user_id"]
    sdk.expect(sdk.put("/server/user/" + path_of(user_id), {"nick": "changed after the move",
                                                             "extends": {"moved": "yes"}}), 200, 0)
    data = sdk.expect(sdk.get("/server/user/profile/" + path_of(user_id)), 200, 0)["data"]
    assert data["nick"] == "changed after the move", data
    assert data["extends"] == {**row["user"]["extends"], "moved": "yes"}, data
    assert (data["im_userid"], data["im_password"]) == (row["user"]["im_userid"], row["user"]["im_password"]), data
    sdk.expect(sdk.post("/server/user/register", {"user_id": user_id}), 409, 10001, "user already exists")


def new_users_get_ids_above_the_imported_ones():
    user_id = sdk.uid("registered-after-the-import")
    sdk.expect(sdk.post("/server/user/register", {"user_id": user_id}), 200, 0)
    data = sdk.expect(sdk.get("/server/user/profile/" + user_id), 200, 0)["data"]
    assert data["im_userid"] > MAX_IMPORTED_IM_USERID, (data["im_userid"], MAX_IMPORTED_IM_USERID)


if __name__ == "__main__":
    sdk.wait_until_served()
    for name, test in [
        ("every migrated edge case: profile and IM credentials as in MySQL", profiles_one_by_one),
        (f"all {len(IMPORTED)} migrated users through batch profiles", profiles_in_batches),
        ("info of the user with the largest IM id", info_has_no_credentials),
        ("deleted rows were not imported", rows_not_imported_are_unknown),
        ("a migrated user: update, and no second registration", migrated_users_can_be_updated_not_registered_again),
        ("a new user's IM id is above every imported one", new_users_get_ids_above_the_imported_ones),
    ]:
        sdk.check(name, test)
    print(f"{sdk.passed} passed, {sdk.failed} failed")
    sys.exit(1 if sdk.failed else 0)
