//! The import against a real MariaDB (MYSQL_URL) and DynamoDB Local
//! (AWS_ENDPOINT_URL_DYNAMODB), as `scripts/test.sh` starts them: a dataset
//! from tests/import/gen_dataset.py (every NULL combination, unicode, huge
//! im_userids, soft-deleted and invalid rows) imported by the real binary,
//! each stored item compared with the item the generator says the row must
//! become (issue 12's promises 1-7).
//!
//! Each test has its own MySQL table and DynamoDB table.

use aws_sdk_dynamodb::types::AttributeValue;
use mysql_async::prelude::Queryable;
use qnlive_user_api::domain::{Extends, ImAccount, NewUser, UserId};
use qnlive_user_api::store::{ImportedUser, Store};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

type Item = HashMap<String, AttributeValue>;

const BINARY: &str = env!("CARGO_BIN_EXE_qnlive-user-import");
const GENERATOR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/import/gen_dataset.py");
const COUNTER_PK: &str = "COUNTER#im_userid";

fn mysql_url() -> String {
    std::env::var("MYSQL_URL").unwrap_or_else(|_| {
        panic!(
            "this test needs MariaDB, and MYSQL_URL is not set: run it with scripts/test.sh, \
             which starts a throwaway MariaDB (scripts/mariadb.sh)"
        )
    })
}

fn dynamodb_endpoint() -> String {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap_or_else(|_| {
        panic!(
            "this test needs DynamoDB Local, and AWS_ENDPOINT_URL_DYNAMODB is not set: \
             run it with scripts/test.sh, which starts DynamoDB Local"
        )
    });
    assert!(
        endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("http://localhost:"),
        "tests only run against DynamoDB Local on loopback, not {endpoint}"
    );
    endpoint
}

fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{prefix}_{}_{nanos:x}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A MySQL table filled by the generator, an empty DynamoDB table, and
/// what the generator expects of every row.
struct Fixture {
    mysql_table: String,
    users_table: String,
    client: aws_sdk_dynamodb::Client,
    store: Store,
    rows: Vec<Value>,
}

impl Fixture {
    async fn new(generator_args: &[&str]) -> Fixture {
        dynamodb_endpoint();
        let mysql_table = unique("live_users");
        let rows = generate(&mysql_table, generator_args).await;
        let users_table = unique("import").replace('_', "-");
        let client = qnlive_user_api::store::dynamodb_client().expect("AWS_REGION and credentials (scripts/test.sh)");
        let store = Store::new(client.clone(), &users_table);
        store.create_table().await.expect("create the DynamoDB table");
        Fixture {
            mysql_table,
            users_table,
            client,
            store,
            rows,
        }
    }

    /// Runs the binary on this fixture's tables.
    fn import(&self, args: &[&str]) -> Output {
        self.import_with(&mysql_url(), args, &[])
    }

    fn import_with(&self, url: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
        Command::new(BINARY)
            .args([
                "--mysql-url",
                url,
                "--mysql-table",
                &self.mysql_table,
                "--users-table",
                &self.users_table,
            ])
            .args(args)
            .env_remove("MYSQL_PASSWORD")
            .envs(env.iter().copied())
            .output()
            .expect("run qnlive-user-import")
    }

    fn rows_of<'a>(&'a self, class: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.rows.iter().filter(move |row| row["class"] == class)
    }

    /// Every item the import must have stored, by key.
    fn expected_items(&self) -> BTreeMap<String, Item> {
        self.rows_of("imported")
            .map(|row| {
                let item = expected_item(&row["user"]);
                (pk(&item), item)
            })
            .collect()
    }

    fn max_imported_im_userid(&self) -> i64 {
        self.rows_of("imported")
            .map(|row| row["user"]["im_userid"].as_i64().unwrap())
            .max()
            .unwrap()
    }

    async fn scan(&self) -> BTreeMap<String, Item> {
        let mut items = BTreeMap::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.users_table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan");
            for item in page.items.unwrap_or_default() {
                items.insert(pk(&item), item);
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return items;
            }
        }
    }

    /// The user items (the counter left out).
    async fn users(&self) -> BTreeMap<String, Item> {
        let mut items = self.scan().await;
        items.remove(COUNTER_PK);
        items
    }

    async fn counter(&self) -> Option<i64> {
        self.scan()
            .await
            .get(COUNTER_PK)
            .map(|item| item["next_id"].as_n().unwrap().parse().unwrap())
    }

    async fn mysql(&self, sql: &str) {
        let mut conn = mysql_async::Conn::new(mysql_async::Opts::from_url(&mysql_url()).unwrap())
            .await
            .unwrap();
        conn.query_drop(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        conn.disconnect().await.unwrap();
    }
}

/// Runs the generator, loads its SQL into MariaDB, returns its rows.
async fn generate(table: &str, args: &[&str]) -> Vec<Value> {
    let expected = std::env::temp_dir().join(format!("{table}.json"));
    let output = Command::new("python3")
        .arg(GENERATOR)
        .args(args)
        .args(["--table", table, "--expected"])
        .arg(&expected)
        .output()
        .expect("python3 runs the generator");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let sql = String::from_utf8(output.stdout).unwrap();
    let mut conn = mysql_async::Conn::new(mysql_async::Opts::from_url(&mysql_url()).unwrap())
        .await
        .expect("connect to MariaDB at MYSQL_URL");
    conn.query_drop(sql).await.expect("load the dataset");
    conn.disconnect().await.unwrap();
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(&expected).unwrap()).unwrap();
    let _ = std::fs::remove_file(std::env::temp_dir().join(format!("{table}.json")));
    expected["rows"].as_array().unwrap().clone()
}

/// The item a row's expected user must be, written out here from the
/// table layout (not through the store's code).
fn expected_item(user: &Value) -> Item {
    let s = |name: &str| AttributeValue::S(user[name].as_str().unwrap().to_owned());
    let n = |value: &Value| AttributeValue::N(value.as_i64().unwrap().to_string());
    let extends = user["extends"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), AttributeValue::S(v.as_str().unwrap().to_owned())))
        .collect();
    let mut item = Item::from([
        (
            "pk".into(),
            AttributeValue::S(format!("USER#{}", user["user_id"].as_str().unwrap())),
        ),
        ("user_id".into(), s("user_id")),
        ("nick".into(), s("nick")),
        ("avatar".into(), s("avatar")),
        ("extends".into(), AttributeValue::M(extends)),
        ("im_userid".into(), n(&user["im_userid"])),
        ("im_username".into(), s("im_username")),
        ("im_password".into(), s("im_password")),
    ]);
    for (attribute, field) in [("created_at", "created_at_ms"), ("updated_at", "updated_at_ms")] {
        if !user[field].is_null() {
            item.insert(attribute.into(), n(&user[field]));
        }
    }
    item
}

fn pk(item: &Item) -> String {
    item["pk"].as_s().unwrap().clone()
}

/// The report on stdout: the counts, and the listed rows by id.
#[derive(Debug)]
struct Report {
    counts: BTreeMap<String, String>,
    invalid: BTreeMap<u64, String>,
    conflicts: BTreeMap<u64, String>,
    failed: usize,
}

impl Report {
    fn count(&self, label: &str) -> u64 {
        let value = self
            .counts
            .get(label)
            .unwrap_or_else(|| panic!("no {label:?} in {self:?}"));
        value.split_whitespace().next().unwrap().parse().unwrap()
    }
}

fn report(output: &Output) -> Report {
    let stdout = String::from_utf8(output.stdout.clone()).unwrap();
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let mut report = Report {
        counts: BTreeMap::new(),
        invalid: BTreeMap::new(),
        conflicts: BTreeMap::new(),
        failed: 0,
    };
    for line in stdout.lines() {
        let tokens: Vec<&str> = line.split_whitespace().collect();
        let id = || tokens[1].strip_prefix("id=").unwrap().parse::<u64>().unwrap();
        let detail = || tokens[2].split_once('=').unwrap().1.to_owned();
        if line.starts_with("  ") {
            let (label, value) = line.trim().split_once("  ").unwrap();
            report.counts.insert(label.to_owned(), value.trim().to_owned());
            continue;
        }
        match tokens.first().copied() {
            Some("invalid") => drop(report.invalid.insert(id(), detail())),
            Some("conflict") => drop(report.conflicts.insert(id(), detail())),
            Some("failed") => report.failed += 1,
            _ => {}
        }
    }
    report
}

fn invalid_rows(fixture: &Fixture) -> BTreeMap<u64, String> {
    fixture
        .rows_of("invalid")
        .map(|row| {
            let reasons: Vec<&str> = row["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap())
                .collect();
            (row["id"].as_u64().unwrap(), reasons.join(","))
        })
        .collect()
}

fn user_id(s: &str) -> UserId {
    UserId::parse(s.into(), "user_id").unwrap()
}

#[tokio::test]
async fn an_import_stores_exactly_the_service_items_never_overwrites_and_reruns_write_nothing() {
    let f = Fixture::new(&["3000", "--widen-user-id"]).await;
    let expected = f.expected_items();
    let imported_rows: Vec<&Value> = f.rows_of("imported").collect();
    assert!(expected.len() > 1500, "the dataset imports {} users", expected.len());

    // Promise 5: a dry run reads and checks everything and writes nothing.
    let dry = report(&f.import(&["--dry-run"]));
    assert_eq!(dry.count("would import"), expected.len() as u64);
    assert_eq!(dry.invalid, invalid_rows(&f));
    assert!(f.scan().await.is_empty(), "a dry run wrote");

    // Users already in DynamoDB: three registered with the service (the
    // cut-over with the service live), two from an earlier import.
    let registered: Vec<&Value> = imported_rows.iter().step_by(401).take(3).copied().collect();
    for row in &registered {
        let user = NewUser {
            user_id: user_id(row["user"]["user_id"].as_str().unwrap()),
            nick: "registered with the service".into(),
            avatar: String::new(),
            extends: Extends::new(),
        };
        let im = ImAccount {
            im_userid: 5,
            im_username: "ql-new".into(),
            im_password: "new-password".into(),
        };
        f.store.create_user(&user, &im).await.unwrap();
    }
    let earlier: Vec<&Value> = imported_rows.iter().skip(7).step_by(503).take(2).copied().collect();
    for row in &earlier {
        let user = &row["user"];
        let imported = ImportedUser {
            user: NewUser {
                user_id: user_id(user["user_id"].as_str().unwrap()),
                nick: user["nick"].as_str().unwrap().into(),
                avatar: user["avatar"].as_str().unwrap().into(),
                extends: serde_json::from_value(user["extends"].clone()).unwrap(),
            },
            im: ImAccount {
                im_userid: user["im_userid"].as_i64().unwrap(),
                im_username: user["im_username"].as_str().unwrap().into(),
                im_password: user["im_password"].as_str().unwrap().into(),
            },
            created_at: user["created_at_ms"].as_i64(),
            updated_at: user["updated_at_ms"].as_i64(),
        };
        f.store.import_user(&imported).await.unwrap();
    }
    let before = f.users().await;

    let first = report(&f.import(&[]));
    // Promise 2: every invalid row listed with all its reasons.
    assert_eq!(first.invalid, invalid_rows(&f));
    // Promise 3: the registered users are conflicts, and untouched.
    let registered_ids: BTreeSet<u64> = registered.iter().map(|row| row["id"].as_u64().unwrap()).collect();
    assert_eq!(first.conflicts.keys().copied().collect::<BTreeSet<_>>(), registered_ids);
    assert!(first
        .conflicts
        .values()
        .all(|differs| differs.contains("im_password") && differs.contains("nick")));
    assert_eq!(first.count("imported"), (expected.len() - 5) as u64);
    assert_eq!(first.count("already present"), 2);
    assert_eq!(
        first.count("skipped (deleted)"),
        f.rows_of("skipped_deleted").count() as u64
    );
    assert_eq!(first.failed, 0);

    // Promise 1: every other item exactly as the service stores it.
    let stored = f.users().await;
    assert_eq!(stored.len(), expected.len());
    for (key, item) in &expected {
        if before.contains_key(key) {
            assert_eq!(&stored[key], &before[key], "{key} was overwritten");
        } else {
            assert_eq!(&stored[key], item, "{key}");
        }
    }
    // The service reads them as users (its own code path).
    let sample = &imported_rows[imported_rows.len() / 2]["user"];
    let read = f
        .store
        .get_user(&user_id(sample["user_id"].as_str().unwrap()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.im.im_password, sample["im_password"].as_str().unwrap());

    // Promise 4: the counter, and ids leased after it, are above every imported id.
    let max = f.max_imported_im_userid();
    assert_eq!(f.counter().await, Some(max));
    assert!(f.store.lease_im_ids(100).await.unwrap().start > max);

    // Promise 3: a second run writes nothing and says so.
    let snapshot = f.scan().await;
    let second = report(&f.import(&[]));
    assert_eq!((second.count("imported"), second.failed), (0, 0));
    assert_eq!(second.count("already present"), (expected.len() - 3) as u64);
    assert_eq!(second.conflicts.len(), 3);
    assert_eq!(f.scan().await, snapshot, "the second run changed the table");

    // The cut-over's last step: late registrations in MySQL, and a user
    // who changed their profile there meanwhile.
    let changed = imported_rows[11]["id"].as_u64().unwrap();
    let table = &f.mysql_table;
    f.mysql(&format!(
        "UPDATE `{table}` SET nick = 'changed later' WHERE id = {changed}"
    ))
    .await;
    let late_table_rows = generate(table, &["40", "--append", "--first-id", "4000000000", "--seed", "5"]).await;
    let late: BTreeMap<String, Item> = late_table_rows
        .iter()
        .filter(|row| row["class"] == "imported")
        .map(|row| {
            let item = expected_item(&row["user"]);
            (pk(&item), item)
        })
        .collect();
    let third = report(&f.import(&[]));
    assert_eq!(third.count("imported"), late.len() as u64);
    assert_eq!(third.conflicts.get(&changed).map(String::as_str), Some("nick"));
    let stored = f.users().await;
    for (key, item) in &late {
        assert_eq!(&stored[key], item, "{key}");
    }
    assert_eq!(stored.len(), expected.len() + late.len());
}

#[tokio::test]
async fn an_interrupted_import_is_finished_by_a_rerun_without_duplicates() {
    let f = Fixture::new(&["2500", "--seed", "3"]).await;
    let expected = f.expected_items();
    let crashed = f.import(&[
        "--crash-after-writes",
        "700",
        "--concurrency",
        "32",
        "--page-size",
        "150",
    ]);
    assert!(!crashed.status.success(), "the crash option did not crash");
    let partial = f.users().await.len();
    assert!(
        partial > 0 && partial < expected.len(),
        "{partial} of {} written",
        expected.len()
    );

    let rerun = report(&f.import(&[]));
    assert_eq!(
        rerun.count("imported") + rerun.count("already present"),
        expected.len() as u64
    );
    assert!(rerun.count("already present") >= partial as u64);
    assert!(rerun.conflicts.is_empty(), "{:?}", rerun.conflicts);
    assert_eq!(f.users().await, expected);
    assert_eq!(f.counter().await, Some(f.max_imported_im_userid()));
}

#[tokio::test]
async fn datetimes_in_another_zone_and_a_counter_that_is_never_lowered() {
    // The edge cases only (no filler), read as the Go service wrote them.
    let f = Fixture::new(&["120", "--time-zone", "+08:00"]).await;
    f.store.raise_im_counter(i64::MAX - 10).await.unwrap();
    let out = report(&f.import(&["--time-zone", "+08:00", "--page-size", "7", "--concurrency", "3"]));
    assert_eq!(out.count("imported"), f.expected_items().len() as u64);
    assert_eq!(f.users().await, f.expected_items());
    assert_eq!(f.counter().await, Some(i64::MAX - 10));
}

/// Promise 7: one line on stderr, exit status 1, no password, nothing
/// written.
#[tokio::test]
async fn bad_input_is_one_clear_line_and_never_the_password() {
    let f = Fixture::new(&["50"]).await;
    let url = mysql_url();
    let password = mysql_async::Opts::from_url(&url).unwrap().pass().unwrap().to_owned();
    let wrong = url.replace(&password, "WrongPassw0rd");
    let port = mysql_async::Opts::from_url(&url).unwrap().tcp_port().to_string();
    let unreachable = url.replace(&format!(":{port}/"), ":1/");
    let malformed = url.replace(&format!(":{port}/"), ":notaport/");
    let no_password = url.replace(&format!(":{password}@"), "@");
    f.mysql(&format!(
        "CREATE TABLE `{}_cols` (id int unsigned PRIMARY KEY, user_id varchar(64))",
        f.mysql_table
    ))
    .await;
    let few_columns = format!("{}_cols", f.mysql_table);
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        (&malformed, vec![], "--mysql-url is malformed"),
        (&wrong, vec![], "MySQL refused the login"),
        (&unreachable, vec![], "could not talk to MySQL at"),
        (&no_password, vec![], "MySQL refused the login"),
        (
            &url,
            vec!["--mysql-table", "no_such_table"],
            "MySQL has no table `no_such_table`",
        ),
        (&url, vec!["--mysql-table", &few_columns], "lacks a column"),
        (
            &url,
            vec!["--users-table", "no-such-table"],
            "the DynamoDB table no-such-table does not exist",
        ),
        (
            &url,
            vec!["--time-zone", "Asia/Shanghai"],
            "--time-zone: give UTC or an offset",
        ),
        (&url, vec!["--bogus"], "unknown option --bogus"),
    ];
    for (url, args, expected) in cases {
        let output = f.import_with(url, &args, &[]);
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("qnlive-user-import: error: "), "{stderr}");
        assert!(
            stderr.contains(expected),
            "{args:?}: {stderr:?} should say {expected:?}"
        );
        assert!(
            !stderr.contains(&password) && !stderr.contains("WrongPassw0rd"),
            "{stderr}"
        );
        assert!(
            output.stdout.is_empty(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stdout)
        );
    }
    let without_table = Command::new(BINARY)
        .args(["--mysql-url", &url])
        .env_remove("USERS_TABLE")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&without_table.stderr).contains("--users-table NAME or USERS_TABLE"));
    assert!(f.scan().await.is_empty(), "a failed run wrote");

    // The password may come from MYSQL_PASSWORD instead of the URL.
    let out = report(&f.import_with(&no_password, &["--dry-run"], &[("MYSQL_PASSWORD", &password)]));
    assert_eq!(out.count("would import"), f.expected_items().len() as u64);
}

/// scripts/mariadb.sh serves TLS with a self-signed certificate.
#[tokio::test]
async fn tls_when_the_url_asks_for_it() {
    let f = Fixture::new(&["60"]).await;
    let url = mysql_url();
    let out = report(&f.import_with(&format!("{url}?require_ssl=true&verify_ca=false"), &["--dry-run"], &[]));
    assert_eq!(out.count("would import"), f.expected_items().len() as u64);
    // Checked against the Mozilla roots, that certificate is refused.
    let verified = f.import_with(&format!("{url}?require_ssl=true"), &["--dry-run"], &[]);
    let stderr = String::from_utf8(verified.stderr).unwrap();
    assert_eq!(verified.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("could not talk to MySQL") && stderr.contains("invalid peer certificate"),
        "{stderr}"
    );
}
