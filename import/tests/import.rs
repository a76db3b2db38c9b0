//! The import against a real MariaDB (MYSQL_URL) and DynamoDB Local
//! (AWS_ENDPOINT_URL_DYNAMODB), as `scripts/test.sh` starts them: a dataset
//! from tests/import/gen_dataset.py (every NULL combination, unicode, huge
//! im_userids, soft-deleted and invalid rows) imported by the real binary,
//! each stored item compared with the item the generator says the row must
//! become (what docs/MIGRATION.md promises).
//!
//! Each test has its own MySQL table and DynamoDB table.

use aws_sdk_dynamodb::types::AttributeValue;
use mysql_async::prelude::Queryable;
use qnlive_user_api::domain::{Extends, ImAccount, NewUser, UserId};
use qnlive_user_api::store::DynamoDbStore;
use qnlive_user_import::table::{ImportedUser, UsersTable};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use qnlive_test_support::dynamodb_local::dynamodb_endpoint;
use qnlive_test_support::fault_proxy;

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
    /// The service's store, as a registration writes.
    store: DynamoDbStore,
    /// The same table, as the import writes it.
    table: UsersTable,
    rows: Vec<Value>,
}

impl Fixture {
    async fn new(generator_args: &[&str]) -> Fixture {
        dynamodb_endpoint();
        let mysql_table = unique("live_users");
        let rows = generate(&mysql_table, generator_args).await;
        let users_table = unique("import").replace('_', "-");
        let client = qnlive_user_api::store::dynamodb_client().expect("AWS_REGION and credentials (scripts/test.sh)");
        let store = DynamoDbStore::new(client.clone(), &users_table);
        store.create_table().await.expect("create the DynamoDB table");
        Fixture {
            table: UsersTable::new(client.clone(), &users_table),
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
        self.command(url, args, env).output().expect("run qnlive-user-import")
    }

    /// Runs the binary with DynamoDB at `endpoint`: a proxy served by the
    /// test's own runtime, so the wait for the binary runs off it.
    async fn import_through(&self, endpoint: &str, args: &[&str]) -> Output {
        let mut command = self.command(&mysql_url(), args, &[("AWS_ENDPOINT_URL_DYNAMODB", endpoint)]);
        tokio::task::spawn_blocking(move || command.output().expect("run qnlive-user-import"))
            .await
            .unwrap()
    }

    fn command(&self, url: &str, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut command = Command::new(BINARY);
        command
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
            .envs(env.iter().copied());
        command
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
    /// From `summary: N rows in ...`.
    rows: u64,
    /// From the first progress line on stderr: the rows counted up front.
    progress_total: Option<u64>,
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
        rows: u64::MAX,
        progress_total: String::from_utf8_lossy(&output.stderr)
            .lines()
            .next()
            .and_then(|line| line.strip_prefix("progress: 0/"))
            .and_then(|rest| rest.strip_suffix(" rows"))
            .map(|n| n.parse().unwrap()),
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
            Some("summary:") => report.rows = tokens[1].parse().unwrap(),
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
    // Raised first to the largest im_userid in MySQL within the limit (the catalogue's 2^62-1).
    assert_eq!(
        dry.counts["IM-id counter"],
        format!("would be raised to at least {}", i64::MAX / 2)
    );
    assert_eq!(dry.progress_total, Some(f.rows.len() as u64));
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
        f.table.import_user(&imported).await.unwrap();
    }
    let before = f.users().await;

    let first = report(&f.import(&[]));
    assert_eq!(first.rows, f.rows.len() as u64);
    // Promise 2: every invalid row listed with all its reasons.
    assert_eq!(first.invalid, invalid_rows(&f));
    // Promise 3: the registered users are conflicts, and untouched.
    let registered_ids: BTreeSet<u64> = registered.iter().map(|row| row["id"].as_u64().unwrap()).collect();
    assert_eq!(first.conflicts.keys().copied().collect::<BTreeSet<_>>(), registered_ids);
    assert!(first
        .conflicts
        .values()
        .all(|differs| differs.contains("im_password") && differs.contains("nick")));
    // A put whose reply is lost (a timeout on a loaded machine) is sent
    // again by the SDK and meets its own item: "already present", not
    // "imported" (docs/MIGRATION.md). The sum is exact.
    let (imported, present) = (first.count("imported"), first.count("already present"));
    assert_eq!(imported + present, (expected.len() - 3) as u64);
    assert!(
        present >= 2 && imported > present,
        "{imported} imported, {present} present"
    );
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
    let (imported, present) = (third.count("imported"), third.count("already present"));
    assert_eq!(imported + present, (expected.len() - 4 + late.len()) as u64);
    assert!(imported > 0 && imported <= late.len() as u64, "{imported}");
    assert_eq!(third.conflicts.len(), 4);
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
    f.table.raise_im_counter(i64::MAX - 10).await.unwrap();
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

/// Files of the AWS CLI's kind in a directory of their own, and the
/// variables that point the import at them and nothing else: no
/// credentials or region in the environment, no ~/.aws, and no instance
/// metadata service (tests never reach for its link-local address, inside
/// the test command's network namespace or not).
struct AwsFiles {
    dir: std::path::PathBuf,
}

impl AwsFiles {
    fn new(config: &str, credentials: &str) -> AwsFiles {
        let dir = std::env::temp_dir().join(unique("aws-files"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config"), config).unwrap();
        std::fs::write(dir.join("credentials"), credentials).unwrap();
        AwsFiles { dir }
    }

    fn apply(&self, command: &mut Command) {
        for name in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "AWS_PROFILE",
        ] {
            command.env_remove(name);
        }
        command
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("HOME", &self.dir)
            .env("AWS_CONFIG_FILE", self.dir.join("config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", self.dir.join("credentials"));
    }
}

impl Drop for AwsFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn env_var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is set by scripts/test.sh"))
}

/// The operator's way (docs/MIGRATION.md): credentials and region from a
/// named profile, nothing in the environment but AWS_PROFILE.
#[tokio::test]
async fn credentials_and_region_come_from_the_profile_named_by_aws_profile() {
    let f = Fixture::new(&["50"]).await;
    let files = AwsFiles::new(
        &format!("[profile qnlive-import]\nregion = {}\n", env_var("AWS_REGION")),
        // DynamoDB Local keeps a database per access key: the suite's.
        &format!(
            "[qnlive-import]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            env_var("AWS_ACCESS_KEY_ID"),
            env_var("AWS_SECRET_ACCESS_KEY")
        ),
    );
    let mut command = f.command(&mysql_url(), &[], &[]);
    files.apply(&mut command);
    let output = command.env("AWS_PROFILE", "qnlive-import").output().unwrap();
    let imported = report(&output);
    assert_eq!(imported.count("imported"), f.expected_items().len() as u64);
    assert_eq!(f.users().await, f.expected_items());

    let mut other = f.command(&mysql_url(), &[], &[]);
    files.apply(&mut other);
    let output = other.env("AWS_PROFILE", "no-such-profile").output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("(AWS_PROFILE)"), "the profile has no region: {stderr}");
}

/// No credentials anywhere: one line naming what to set, also when a
/// source in the chain never answers (here a container credentials
/// endpoint that accepts and stalls), never a hang.
#[tokio::test]
async fn without_credentials_or_region_the_error_is_one_line_naming_what_to_set() {
    let stalled = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stalled_url = format!("http://{}/credentials", stalled.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut connections = Vec::new();
        while let Ok((connection, _)) = stalled.accept().await {
            connections.push(connection);
        }
    });
    let files = AwsFiles::new("", "");
    let run = |env: &[(&str, &str)]| {
        let mut command = Command::new(BINARY);
        command.args(["--mysql-url", &mysql_url(), "--users-table", "any-table"]);
        files.apply(&mut command);
        command.envs(env.iter().copied());
        async move {
            let started = std::time::Instant::now();
            let output = tokio::task::spawn_blocking(move || command.output().unwrap())
                .await
                .unwrap();
            assert!(
                started.elapsed() < std::time::Duration::from_secs(30),
                "{:?}",
                started.elapsed()
            );
            assert_eq!(output.status.code(), Some(1));
            let stderr = String::from_utf8(output.stderr).unwrap();
            assert_eq!(stderr.lines().count(), 1, "{stderr}");
            stderr
        }
    };
    for env in [
        vec![("AWS_REGION", "us-east-1")],
        vec![
            ("AWS_REGION", "us-east-1"),
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", stalled_url.as_str()),
        ],
    ] {
        let no_credentials = run(&env).await;
        assert!(
            no_credentials.starts_with("qnlive-user-import: error: no AWS credentials found")
                && no_credentials.contains("set AWS_PROFILE")
                && no_credentials.contains("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
            "{no_credentials}"
        );
    }
    let no_region = run(&[]).await;
    assert!(no_region.contains("no AWS region: set AWS_REGION"), "{no_region}");
    held.abort();
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

/// An empty table is a report of nothing; a row the original's schema
/// could not hold stops the run after the pages before it, whose users
/// are written and reported.
#[tokio::test]
async fn an_empty_table_and_a_run_stopped_by_a_bad_row() {
    let f = Fixture::new(&["0"]).await;
    let empty = report(&f.import(&[]));
    assert_eq!((empty.count("imported"), empty.count("invalid")), (0, 0));

    let table = format!("{}_typed", f.mysql_table);
    let mut sql = format!(
        "CREATE TABLE `{table}` (id int unsigned PRIMARY KEY, user_id varchar(64), nick varchar(64), \
         avatar varchar(255), extends json, im_userid varchar(20), im_username varchar(64), \
         im_password varchar(32), created_at datetime, updated_at datetime, deleted_at datetime);"
    );
    for id in 1..=9 {
        let im_userid = if id == 8 {
            "'not a number'".to_owned()
        } else {
            format!("'{}'", 1000 + id)
        };
        sql += &format!(
            "INSERT INTO `{table}` VALUES ({id}, 'typed{id}', NULL, NULL, NULL, {im_userid}, 'qltyped{id}', 'pw', NULL, NULL, NULL);"
        );
    }
    f.mysql(&sql).await;
    let output = f.import_with(&mysql_url(), &["--mysql-table", &table, "--page-size", "5"], &[]);
    let (stdout, stderr) = (
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    );
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    // Progress lines first (stderr is no terminal), then the one error line.
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("qnlive-user-import: error: row id=8: the column im_userid holds"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("error").count(), 1, "{stderr}");
    assert!(
        stdout.contains("summary (incomplete: the run stopped early): 5 rows"),
        "{stdout}"
    );
    assert!(stdout.contains("  imported           5\n"), "{stdout}");
    assert_eq!(f.users().await.len(), 5);
    // Promise 4 holds for what a stopped run wrote.
    assert_eq!(f.counter().await, Some(1005));
}

/// Throttling, 500s, lost connections and lost replies on a third of the
/// calls: the SDK's retries and the import's own (with backoff) still put
/// every user exactly once. A lost reply makes the retry meet its own
/// item: counted as already present, never as a conflict.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_lost_replies_are_retried_until_every_user_is_written() {
    let f = Fixture::new(&["1500", "--seed", "9"]).await;
    let proxy =
        fault_proxy::FaultProxy::start(&dynamodb_endpoint(), fault_proxy::FaultPlan::mixed(17, 0.35, 0.0)).await;
    let output = f.import_through(&proxy.endpoint, &["--concurrency", "16"]).await;
    let out = report(&output);
    let expected = f.expected_items();
    assert!(proxy.stats.faulted() > 50, "only {} faults", proxy.stats.faulted());
    assert_eq!((out.failed, out.conflicts.len()), (0, 0), "{out:?}");
    assert_eq!(
        out.count("imported") + out.count("already present"),
        expected.len() as u64
    );
    assert_eq!(f.users().await, expected);
}

/// A proxy in front of DynamoDB Local that answers every `PutItem` with
/// throttling (and counts them) and forwards every other call.
async fn throttling_every_put(upstream: String) -> (String, std::sync::Arc<AtomicU32>) {
    use http_body_util::{BodyExt, Full};
    use hyper::body::{Bytes, Incoming};
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let puts = std::sync::Arc::new(AtomicU32::new(0));
    let counted = puts.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (client, upstream, puts) = (client.clone(), upstream.clone(), counted.clone());
            let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                let (client, upstream, puts) = (client.clone(), upstream.clone(), puts.clone());
                async move {
                    let target = request.headers().get("x-amz-target").and_then(|v| v.to_str().ok());
                    if target == Some("DynamoDB_20120810.PutItem") {
                        puts.fetch_add(1, Ordering::Relaxed);
                        let body =
                            r#"{"__type":"com.amazon.coral.availability#ThrottlingException","message":"injected"}"#;
                        return Ok::<_, Box<dyn std::error::Error + Send + Sync>>(
                            hyper::Response::builder()
                                .status(400)
                                .body(Full::new(Bytes::from(body)))?,
                        );
                    }
                    let (mut parts, body) = request.into_parts();
                    parts.uri = format!("{upstream}{}", parts.uri.path()).parse()?;
                    let body = Full::new(body.collect().await?.to_bytes());
                    let (parts, body) = client
                        .request(hyper::Request::from_parts(parts, body))
                        .await?
                        .into_parts();
                    Ok(hyper::Response::from_parts(
                        parts,
                        Full::new(body.collect().await?.to_bytes()),
                    ))
                }
            });
            tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service));
        }
    });
    (endpoint, puts)
}

/// DynamoDB that keeps throttling writes: each row is retried (the SDK's
/// attempts, then the import's own with backoff) and then listed as
/// failed, never dropped; after 100 such rows the run stops, exit 1.
/// (The fault proxy above cannot do this: its faults hit every call, and
/// the check of the table before the import would fail first.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_that_keep_failing_are_listed_and_stop_the_run() {
    let f = Fixture::new(&["1300", "--seed", "4"]).await;
    let (endpoint, _) = throttling_every_put(dynamodb_endpoint()).await;
    let started = std::time::Instant::now();
    let output = f.import_through(&endpoint, &["--concurrency", "100"]).await;
    let (stdout, stderr) = (
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    );
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("rows failed to be written (DynamoDB keeps failing)"),
        "{stderr}"
    );
    // The rows still in flight at the 100th failure are waited for, and listed too.
    let failed: Vec<&str> = stdout.lines().filter(|line| line.starts_with("failed")).collect();
    assert!((100..=200).contains(&failed.len()), "{}", failed.len());
    assert!(
        failed.iter().all(|line| line.contains("PutItem(import) unavailable")),
        "{failed:?}"
    );
    assert!(
        stdout.contains("summary (incomplete: the run stopped early)"),
        "{stdout}"
    );
    // Five rounds of ours, 200 ms to 1.6 s apart, each after the SDK's three attempts.
    assert!(
        started.elapsed() > std::time::Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(f.users().await.is_empty());
}

/// One row that cannot be written: the SDK's three attempts in each of the
/// import's five rounds, then the row is listed and the exit status is 2
/// (finished, run again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_that_cannot_be_written_is_tried_fifteen_times_then_listed() {
    let f = Fixture::new(&["1"]).await;
    let (endpoint, puts) = throttling_every_put(dynamodb_endpoint()).await;
    let output = f.import_through(&endpoint, &[]).await;
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.starts_with("failed    id=1  error=\"DynamoDB PutItem(import) unavailable"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  failed             1  (run again to retry them)\n"),
        "{stdout}"
    );
    assert_eq!(puts.load(Ordering::Relaxed), 15);
}

/// A DynamoDB that cannot be reached is an error: neither "the table does
/// not exist" nor "the counter is already high enough".
#[tokio::test]
async fn an_unreachable_dynamodb_is_an_error_for_the_table_check_and_the_counter() {
    let client = qnlive_user_api::store::client::dynamodb_client_from(|name| match name {
        // The discard port: nothing listens there, the connection is refused.
        "AWS_ENDPOINT_URL_DYNAMODB" => Some("http://127.0.0.1:9".to_owned()),
        _ => std::env::var(name).ok(),
    })
    .expect("AWS_REGION and credentials (scripts/test.sh)");
    let table = UsersTable::new(client, "unreachable");
    assert!(table.table_exists().await.is_err());
    assert!(table.raise_im_counter(5).await.is_err());
}
