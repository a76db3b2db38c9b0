#!/usr/bin/env python3
"""A deterministic live_users dataset for the MySQL import, and what the
import must make of every row.

Writes SQL for the `mariadb` client to stdout (the original DDL from
live_users.sql, then multi-row INSERTs in one transaction) and, with
--expected, a JSON file with each row's classification:

    python3 tests/import/gen_dataset.py 3000 --expected /tmp/expected.json | mariadb_client

Rows, in id order (ids have gaps; the last ones are above 2^31, as
`int unsigned` allows):
  1. named edge cases (each with the class the rules below must give it;
     the generator checks itself against them): unicode and emoji ids,
     nicks, avatars and extends; length boundaries; every extends shape
     (SQL NULL, JSON null, {}, strings, escapes, duplicate keys, numbers,
     nested objects, arrays, non-objects, over the limits); ids that are
     empty or contain control characters; missing IM accounts (NULL, 0,
     negative im_userid, NULL/empty username or password); im_userid
     near 2^53, at the limit 2^62-1 and beyond it; datetimes NULL, zero, 1000-01-01,
     9999-12-31; soft-deleted rows, valid and not;
  2. every combination of NULLs over the ten nullable columns (1,024 rows);
  3. filler shaped like the original's own rows (its users are created
     with extends = JSON null, nick/avatar "", im_username "ql" + user_id,
     an 8-character im_password), some with profiles, about 5 % deleted and
     4 % invalid, up to N rows. With N below the size of 1 + 2 (printed
     on stderr), the first N rows are written.

Classification (the import's rules, import/src/classify.rs, which checks
what it imports with the service's own parser):
  skipped_deleted  deleted_at is not NULL (a zero date counts as set: the
                   original's `deleted_at IS NULL` filter hid such rows);
  invalid          with `reasons`, every one that applies, in this order:
                   user_id_null, user_id_empty, user_id_too_long (over 64
                   characters; only with --widen-user-id, as varchar(64)
                   cannot hold one), user_id_control_character,
                   extends_not_object (JSON other than an object or null),
                   extends_too_many_entries (over 64), extends_non_string_value,
                   extends_key_empty, extends_key_too_long (over 64),
                   extends_value_too_long (over 1024), im_userid_missing
                   (NULL or 0), im_userid_negative, im_userid_too_large
                   (over 2^62-1: the IM-id counter needs room above the
                   largest imported id), im_username_missing (NULL or ""),
                   im_password_missing (NULL or "");
  imported         `user` holds the item the service would store: NULL nick
                   or avatar -> "", SQL NULL / JSON null extends -> {},
                   duplicate extends keys -> the last one wins (as in Go and
                   serde_json), IM fields unchanged, created_at_ms and
                   updated_at_ms the DATETIMEs read in --time-zone (null when
                   NULL or the zero date).

The expected file:
  {"generator": {...arguments...},
   "summary": {"rows", "imported", "skipped_deleted", "invalid",
               "invalid_by_reason": {reason: rows}, "max_imported_im_userid",
               "catalogue_rows"},
   "rows": [{"id", "class", "case", "reasons"?, "user"?}, ...]}
(one row per line; `case` names the edge case, or "null-mask:..." / "filler").
Integers are exact (im_userid up to 2^63-1: read them as i64, not f64).

Python 3 standard library only.
"""

import argparse
import datetime
import json
import pathlib
import random
import sys
import unicodedata

TABLE_DDL = pathlib.Path(__file__).with_name("live_users.sql")
COLUMNS = ["id", "user_id", "nick", "avatar", "extends", "im_userid", "im_username",
           "im_password", "created_at", "updated_at", "deleted_at"]
NULLABLE = COLUMNS[1:]

MAX_USER_ID_CHARS = 64
MAX_EXTENDS_ENTRIES = 64
MAX_EXTENDS_KEY_CHARS = 64
MAX_EXTENDS_VALUE_CHARS = 1024
I64_MAX = 2**63 - 1
MAX_IM_USERID = I64_MAX // 2  # the import's limit (import/src/classify.rs)
ZERO_DATE = "0000-00-00 00:00:00"
HIGH_IDS = [2**31 - 1, 2**31, 3_000_000_000]  # int unsigned: beyond i32


# ---------------------------------------------------------------- rules

def classify(row, tz):
    """(class, reasons, user) of a row, by the service's rules."""
    if row["deleted_at"] is not None:
        return "skipped_deleted", [], None
    reasons = []
    user_id = row["user_id"]
    if user_id is None:
        reasons.append("user_id_null")
    elif user_id == "":
        reasons.append("user_id_empty")
    else:
        if len(user_id) > MAX_USER_ID_CHARS:
            reasons.append("user_id_too_long")
        if any(unicodedata.category(c) == "Cc" for c in user_id):
            reasons.append("user_id_control_character")
    extends = {}
    if row["extends"] is not None:
        value = json.loads(row["extends"])  # duplicate keys: the last wins
        if value is None:
            pass
        elif not isinstance(value, dict):
            reasons.append("extends_not_object")
        else:
            if len(value) > MAX_EXTENDS_ENTRIES:
                reasons.append("extends_too_many_entries")
            checks = [
                ("extends_non_string_value", lambda k, v: not isinstance(v, str)),
                ("extends_key_empty", lambda k, v: k == ""),
                ("extends_key_too_long", lambda k, v: len(k) > MAX_EXTENDS_KEY_CHARS),
                ("extends_value_too_long",
                 lambda k, v: isinstance(v, str) and len(v) > MAX_EXTENDS_VALUE_CHARS),
            ]
            for reason, bad in checks:
                if any(bad(k, v) for k, v in value.items()):
                    reasons.append(reason)
            extends = value
    im_userid = row["im_userid"]
    if im_userid is None or im_userid == 0:
        reasons.append("im_userid_missing")
    elif im_userid < 0:
        reasons.append("im_userid_negative")
    elif im_userid > MAX_IM_USERID:
        reasons.append("im_userid_too_large")
    if not row["im_username"]:
        reasons.append("im_username_missing")
    if not row["im_password"]:
        reasons.append("im_password_missing")
    if reasons:
        return "invalid", reasons, None
    user = {
        "user_id": user_id,
        "nick": row["nick"] or "",
        "avatar": row["avatar"] or "",
        "extends": dict(sorted(extends.items())),
        "im_userid": im_userid,
        "im_username": row["im_username"],
        "im_password": row["im_password"],
        "created_at_ms": epoch_ms(row["created_at"], tz),
        "updated_at_ms": epoch_ms(row["updated_at"], tz),
    }
    return "imported", [], user


def epoch_ms(value, tz):
    if value is None or value == ZERO_DATE:
        return None
    naive = datetime.datetime.fromisoformat(value)
    return int(naive.replace(tzinfo=tz).timestamp()) * 1000


def parse_tz(text):
    if text.upper() == "UTC":
        return datetime.timezone.utc
    sign = -1 if text.startswith("-") else 1
    hours, minutes = text.lstrip("+-").split(":")
    return datetime.timezone(sign * datetime.timedelta(hours=int(hours), minutes=int(minutes)))


# ---------------------------------------------------------------- values

NICKS = ["Alice", "小明", "王小二", "🎉 party", "Zoë", "O'Brien \\ \"q\"", "", "名字😀", "tab\there",
         "'; DROP TABLE live_users; --", "مرحبا", "  spaced  "]
AVATARS = ["", "https://example.com/a.png", "https://cdn.example.cn/头像/1.jpg",
           "https://example.com/😀.png?x=1&y=2"]
GOOD_EXTENDS = ["null", "{}", '{"age":"18"}', '{"城市":"北京","emoji":"😀🎉"}',
                '{"level":"vip","note":""}']
# The original's utils/password charset: its IM passwords are 8 of these.
PASSWORD_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ1234567890!@#$%^&*()[]{}.,"


def json_text(value, pretty=False):
    if pretty:
        return json.dumps(value, ensure_ascii=False, indent=2)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Gen:
    def __init__(self, seed, max_im_userid):
        self.rng = random.Random(seed)
        self.max_im_userid = max_im_userid
        self.next_im = 1_000_000

    def datetime(self):
        start = datetime.datetime(2022, 5, 19)
        return start + datetime.timedelta(seconds=self.rng.randrange(3 * 365 * 86400))

    def times(self):
        created = self.datetime()
        updated = created + datetime.timedelta(seconds=self.rng.choice([0, 0, 5, 3600, 86400 * 40]))
        fmt = "%Y-%m-%d %H:%M:%S"
        return created.strftime(fmt), updated.strftime(fmt)

    def password(self, length=8):
        return "".join(self.rng.choices(PASSWORD_CHARS, k=length))

    def im_userid(self):
        self.next_im += self.rng.randrange(1, 20)
        return self.next_im

    def valid_row(self, user_id):
        """A row the import takes as it is (deleted_at NULL)."""
        created, updated = self.times()
        return {
            "user_id": user_id,
            "nick": self.rng.choice(NICKS),
            "avatar": self.rng.choice(AVATARS),
            "extends": self.rng.choice(GOOD_EXTENDS),
            "im_userid": self.im_userid(),
            "im_username": ("ql" + user_id)[:64],
            "im_password": self.password(),
            "created_at": created,
            "updated_at": updated,
            "deleted_at": None,
        }


def catalogue(gen, widen_user_id):
    """The named edge cases: (case, expected class, expected reasons, row)."""
    cases = []
    counter = [0]

    def add(case, klass, reasons=(), **overrides):
        counter[0] += 1
        row = gen.valid_row(f"case{counter[0]:03d}")
        row.update(overrides)
        if "user_id" in overrides and "im_username" not in overrides and overrides["user_id"]:
            row["im_username"] = ("ql" + overrides["user_id"])[:64]
        cases.append((case, klass, list(reasons), row))

    def ok(case, **overrides):
        add(case, "imported", **overrides)

    def bad(case, reasons, **overrides):
        add(case, "invalid", reasons, **overrides)

    # The original's own shape: FindOrCreateUser stores extends = JSON null
    # (a nil Go map marshals to null), "" for nick and avatar, and 0/"" for
    # the IM fields until the IM account exists.
    ok("go-created user", nick="", avatar="", extends="null")
    bad("go user whose IM registration failed", ["im_userid_missing", "im_username_missing",
                                                 "im_password_missing"],
        nick="", avatar="", extends="null", im_userid=0, im_username="", im_password="")

    # user_id: unicode, boundaries. Under utf8mb4_general_ci every character
    # outside the BMP (emoji) weighs the same, so two emoji-only ids of the
    # same length would collide in the unique index: each shape appears once.
    ok("user_id chinese", user_id="张伟")
    ok("user_id emoji only", user_id="😀🎉")
    ok("user_id mixed scripts", user_id="用户-😀-ß-é-Ω")
    ok("user_id 64 emoji (the limit)", user_id="😀" * 64)
    ok("user_id 64 chinese (the limit)", user_id="汉" * 64)
    ok("user_id 64 ascii (the limit)", user_id="a" * 63 + "z")
    ok("user_id trailing space (kept exactly)", user_id="bob ")
    ok("user_id leading space", user_id=" lead")
    ok("user_id combining accent", user_id="e\u0301-combining")
    ok("user_id zwj family emoji", user_id="👨\u200d👩\u200d👧-family")
    ok("user_id right-to-left", user_id="مرحبا-rtl")
    ok("user_id url-ish", user_id="a/b?c=d&e#f%20")
    ok("user_id quote and backslash", user_id="o'brien\\x")
    bad("user_id NULL", ["user_id_null"], user_id=None)
    bad("user_id empty", ["user_id_empty"], user_id="")
    bad("user_id tab", ["user_id_control_character"], user_id="tab\tid")
    bad("user_id newline", ["user_id_control_character"], user_id="line\nbreak")
    bad("user_id NUL", ["user_id_control_character"], user_id="nul\0id")
    bad("user_id DEL", ["user_id_control_character"], user_id="del\x7fid")
    bad("user_id C1 control", ["user_id_control_character"], user_id="c1\x85id")
    if widen_user_id:
        bad("user_id 65 ascii", ["user_id_too_long"], user_id="b" * 65)
        bad("user_id 65 emoji", ["user_id_too_long"], user_id="🎉" * 65)
        bad("user_id 255 chars", ["user_id_too_long"], user_id="c" * 255)

    # nick / avatar
    ok("nick 64 emoji (the limit)", nick="🎉" * 64)
    ok("nick chinese", nick="小明同学")
    ok("nick control characters (allowed)", nick="a\tb\nc")
    ok("nick NULL, avatar NULL", nick=None, avatar=None)
    ok("avatar 255 characters", avatar="https://example.com/" + "p" * 231 + ".png")
    ok("avatar unicode", avatar="https://例子.cn/头像/😀.png")

    # extends
    ok("extends SQL NULL", extends=None)
    ok("extends JSON null", extends="null")
    ok("extends JSON null with spaces", extends="  null  ")
    ok("extends {}", extends="{}")
    ok("extends strings, unicode keys and values",
       extends='{"城市":"北京","emoji":"😀🎉","empty":"","ключ":"значение"}')
    ok("extends escapes as Go writes them",
       extends='{"html":"\\u003cb\\u003e \\u0026 \\u003c/b\\u003e","nl":"a\\nb","quote":"\\"q\\"",'
               '"surrogates":"\\ud83d\\ude00","tab":"\\t"}')
    ok("extends pretty-printed", extends=json_text({"a": "1", "b": "2"}, pretty=True))
    ok("extends duplicate keys (last wins)", extends='{"a":"first","a":"last"}')
    ok("extends 64 entries (the limit)",
       extends=json_text({f"k{i:02d}": str(i) for i in range(64)}))
    ok("extends key 64 characters (the limit)", extends=json_text({"键" * 64: "v"}))
    ok("extends value 1024 characters (the limit)", extends=json_text({"long": "値" * 1024}))
    bad("extends number value", ["extends_non_string_value"], extends='{"age":18}')
    bad("extends float value", ["extends_non_string_value"], extends='{"score":1.5}')
    bad("extends bool value", ["extends_non_string_value"], extends='{"vip":true}')
    bad("extends null value", ["extends_non_string_value"], extends='{"gone":null}')
    bad("extends nested object", ["extends_non_string_value"], extends='{"a":{"b":"c"}}')
    bad("extends array value", ["extends_non_string_value"], extends='{"tags":["x","y"]}')
    bad("extends mixed values", ["extends_non_string_value"], extends='{"ok":"1","n":2}')
    bad("extends JSON array", ["extends_not_object"], extends='[{"a":"b"}]')
    bad("extends JSON empty array", ["extends_not_object"], extends="[]")
    bad("extends JSON string", ["extends_not_object"], extends='"just a string"')
    bad("extends JSON string holding an object", ["extends_not_object"],
        extends=json.dumps('{"a":"b"}'))
    bad("extends JSON number", ["extends_not_object"], extends="42")
    bad("extends JSON true", ["extends_not_object"], extends="true")
    bad("extends 65 entries", ["extends_too_many_entries"],
        extends=json_text({f"k{i:02d}": str(i) for i in range(65)}))
    bad("extends empty key", ["extends_key_empty"], extends='{"":"v"}')
    bad("extends key 65 characters", ["extends_key_too_long"], extends=json_text({"k" * 65: "v"}))
    bad("extends value 1025 characters", ["extends_value_too_long"],
        extends=json_text({"long": "v" * 1025}))

    # IM account
    for value in [2**53 - 1, 2**53, 2**53 + 1, MAX_IM_USERID]:
        if value <= gen.max_im_userid:
            ok(f"im_userid {value}", im_userid=value)
    for value in [MAX_IM_USERID + 1, I64_MAX - 1, I64_MAX]:
        if value <= gen.max_im_userid:
            bad(f"im_userid {value} (over the limit)", ["im_userid_too_large"], im_userid=value)
    ok("im_userid 1", im_userid=1)
    ok("im_password 32 characters (varchar(32))", im_password=gen.password(32))
    ok("im_username 64 characters", im_username="m" * 64)
    ok("im_username not ql+user_id (another IM's naming)", im_username="13800138000")
    ok("im_password with symbols", im_password="p@ss w'rd\\\"")
    bad("im_userid NULL", ["im_userid_missing"], im_userid=None)
    bad("im_userid 0", ["im_userid_missing"], im_userid=0)
    bad("im_userid -1", ["im_userid_negative"], im_userid=-1)
    bad("im_userid i64 min", ["im_userid_negative"], im_userid=-(2**63))
    bad("im_username NULL", ["im_username_missing"], im_username=None)
    bad("im_username empty", ["im_username_missing"], im_username="")
    bad("im_password NULL", ["im_password_missing"], im_password=None)
    bad("im_password empty", ["im_password_missing"], im_password="")

    # datetimes
    ok("created_at NULL, updated_at set", created_at=None)
    ok("created_at set, updated_at NULL", updated_at=None)
    ok("created_at and updated_at NULL", created_at=None, updated_at=None)
    ok("created_at zero date", created_at=ZERO_DATE, updated_at=ZERO_DATE)
    ok("created_at 1970-01-01", created_at="1970-01-01 00:00:00")
    ok("created_at 1000-01-01 (DATETIME min)", created_at="1000-01-01 00:00:00")
    ok("updated_at 9999-12-31 (DATETIME max)", updated_at="9999-12-31 23:59:59")
    ok("created_at after 2038", created_at="2038-01-19 03:14:08")

    # soft deletes
    add("deleted", "skipped_deleted", deleted_at="2024-01-02 03:04:05")
    add("deleted, zero date (set: the original hid it)", "skipped_deleted", deleted_at=ZERO_DATE)
    add("deleted and invalid", "skipped_deleted", user_id=None, extends='{"n":1}', im_userid=None,
        deleted_at="2023-06-01 00:00:00")
    add("deleted unicode", "skipped_deleted", user_id="已删除😀", deleted_at="2023-06-01 00:00:00")

    # everything wrong at once: every reason is listed
    bad("all reasons", ["user_id_null", "extends_non_string_value", "im_userid_missing",
                        "im_username_missing", "im_password_missing"],
        user_id=None, extends='{"n":1}', im_userid=None, im_username=None, im_password=None)
    bad("control id and bad extends", ["user_id_control_character", "extends_not_object",
                                       "im_userid_negative"],
        user_id="x\ty", extends="[]", im_userid=-5)
    return cases


def null_masks(gen):
    """Every combination of NULLs over the nullable columns (values chosen
    so that only the NULLs decide the class)."""
    for mask in range(1 << len(NULLABLE)):
        user_id = f"nm{mask:04d}-" + gen.rng.choice(["alice", "张伟", "😀", "Zoë"])
        row = gen.valid_row(user_id)
        row["deleted_at"] = "2024-05-06 07:08:09"
        nulls = []
        for bit, column in enumerate(NULLABLE):
            if mask & (1 << bit):
                row[column] = None
                nulls.append(column)
        yield "null-mask:" + (",".join(nulls) or "none"), row


def filler(gen, first_number):
    number = first_number
    while True:
        user_id = gen.rng.choice([f"user-{number}", f"用户{number}", f"u{number}-😀", f"U{number}_x"])
        row = gen.valid_row(user_id)
        shape = gen.rng.random()
        if shape < 0.55:  # registered by the client SDK: no profile
            row.update(nick="", avatar="", extends="null")
        elif shape < 0.60:
            row["deleted_at"] = row["updated_at"]
        elif shape < 0.64:
            kind = gen.rng.randrange(4)
            if kind == 0:
                row.update(im_userid=0, im_username="", im_password="")
            elif kind == 1:
                row["extends"] = '{"age":18}'
            elif kind == 2:  # NULL, not "": the unique index allows one "" only
                row["user_id"] = None
            else:
                row["extends"] = "[]"
        yield "filler", row
        number += 1


# ---------------------------------------------------------------- output

def sql_value(value):
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    escaped = (value.replace("\\", "\\\\").replace("'", "\\'").replace("\0", "\\0")
               .replace("\n", "\\n").replace("\r", "\\r").replace("\x1a", "\\Z"))
    return "'" + escaped + "'"


def ddl(table):
    lines = [line for line in TABLE_DDL.read_text(encoding="utf-8").splitlines()
             if not line.startswith("--")]
    text = "\n".join(lines)
    return text.replace("CREATE TABLE `live_users`", f"CREATE TABLE `{table}`", 1)


def ids(rng, count, first):
    """Increasing ids with gaps; the last ones above 2^31 when there is room."""
    out, current = [], first
    for _ in range(count):
        out.append(current)
        current += 1 if rng.random() < 0.97 else rng.randrange(2, 500)
    if count > len(HIGH_IDS) and out[-len(HIGH_IDS) - 1] < HIGH_IDS[0]:
        out[-len(HIGH_IDS):] = HIGH_IDS
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="See the module docstring for the classification.")
    parser.add_argument("rows", type=int, help="how many rows (100000 for the benchmark)")
    parser.add_argument("--seed", type=int, default=12, help="random seed (default 12)")
    parser.add_argument("--table", default="live_users", help="table name (default live_users)")
    parser.add_argument("--expected", type=pathlib.Path, help="write the classification JSON here")
    parser.add_argument("--time-zone", default="UTC",
                        help="zone the DATETIMEs are read in for created_at_ms/updated_at_ms: UTC "
                             "(default) or an offset like +08:00 (the Go service wrote Asia/Shanghai)")
    parser.add_argument("--widen-user-id", action="store_true",
                        help="ALTER user_id to varchar(255) and add rows with ids over 64 characters")
    parser.add_argument("--max-im-userid", type=int, default=I64_MAX,
                        help="leave out edge-case im_userids above this (default 2^63-1)")
    parser.add_argument("--append", action="store_true",
                        help="no DROP/CREATE and only filler rows (late registrations); use --first-id")
    parser.add_argument("--first-id", type=int, default=1, help="id of the first row (default 1)")
    parser.add_argument("--batch", type=int, default=1000, help="rows per INSERT (default 1000)")
    args = parser.parse_args()
    if args.rows < 0:
        parser.error("rows must be >= 0")
    tz = parse_tz(args.time_zone)

    gen = Gen(args.seed, args.max_im_userid)
    planned = []
    if not args.append:
        for case, klass, reasons, row in catalogue(gen, args.widen_user_id):
            got_class, got_reasons, _ = classify(row, tz)
            if (got_class, got_reasons) != (klass, reasons):
                sys.exit(f"generator bug: case {case!r} classifies as {got_class} {got_reasons}, "
                         f"meant {klass} {reasons}")
            planned.append((case, row))
        planned.extend(null_masks(gen))
    catalogue_rows = len(planned)
    if args.rows < catalogue_rows:
        print(f"note: {args.rows} rows is fewer than the {catalogue_rows} edge-case rows; "
              f"only the first {args.rows} are written", file=sys.stderr)
        planned = planned[:args.rows]
    else:
        source = filler(gen, args.first_id + catalogue_rows)
        planned.extend(next(source) for _ in range(args.rows - catalogue_rows))
    if args.append:
        row_ids = [args.first_id + i for i in range(len(planned))]
    else:
        row_ids = ids(gen.rng, len(planned), args.first_id)

    out = sys.stdout
    out.write("SET NAMES utf8mb4;\n")
    # Backslash escapes on, zero dates allowed: the same on MariaDB and MySQL.
    out.write("SET SESSION sql_mode = 'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION';\n")
    if not args.append:
        out.write(f"DROP TABLE IF EXISTS `{args.table}`;\n{ddl(args.table)}\n")
        if args.widen_user_id:
            out.write(f"ALTER TABLE `{args.table}` MODIFY `user_id` varchar(255) DEFAULT NULL;\n")
    out.write("START TRANSACTION;\n")
    header = f"INSERT INTO `{args.table}` ({', '.join('`%s`' % c for c in COLUMNS)}) VALUES\n"
    for start in range(0, len(planned), args.batch):
        chunk = planned[start:start + args.batch]
        values = ",\n".join(
            "(" + ", ".join(sql_value(v) for v in [row_id] + [row[c] for c in NULLABLE]) + ")"
            for row_id, (_, row) in zip(row_ids[start:start + args.batch], chunk))
        out.write(header + values + ";\n")
    out.write("COMMIT;\n")

    summary = {"rows": len(planned), "imported": 0, "skipped_deleted": 0, "invalid": 0,
               "invalid_by_reason": {}, "max_imported_im_userid": None,
               "catalogue_rows": catalogue_rows}
    lines = []
    for row_id, (case, row) in zip(row_ids, planned):
        klass, reasons, user = classify(row, tz)
        summary[klass] += 1
        entry = {"id": row_id, "class": klass, "case": case}
        if reasons:
            entry["reasons"] = reasons
            for reason in reasons:
                summary["invalid_by_reason"][reason] = summary["invalid_by_reason"].get(reason, 0) + 1
        if user:
            entry["user"] = user
            best = summary["max_imported_im_userid"]
            summary["max_imported_im_userid"] = max(best or 0, user["im_userid"])
        lines.append(json.dumps(entry, ensure_ascii=False))
    summary["invalid_by_reason"] = dict(sorted(summary["invalid_by_reason"].items()))
    generator = {"rows": args.rows, "seed": args.seed, "table": args.table,
                 "time_zone": args.time_zone, "widen_user_id": args.widen_user_id,
                 "max_im_userid": args.max_im_userid, "append": args.append,
                 "first_id": args.first_id}
    if args.expected:
        with args.expected.open("w", encoding="utf-8") as f:
            f.write('{"generator": ' + json.dumps(generator) + ',\n "summary": '
                    + json.dumps(summary, ensure_ascii=False) + ',\n "rows": [\n')
            f.write(",\n".join(lines))
            f.write("\n]}\n")
    print("dataset: " + json.dumps(summary, ensure_ascii=False), file=sys.stderr)


if __name__ == "__main__":
    main()
