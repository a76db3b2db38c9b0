//! Writes the largest users straight into the table named by `USERS_TABLE`
//! (the DynamoDB the standard AWS variables point at), the way the MySQL
//! import writes them: no API limit applies on this path. For
//! `scripts/worst_case_memory.sh`, which reads them back through the
//! function under a memory limit.
//!
//!     seed_large_users PREFIX COUNT ENTRIES
//!
//! writes users `PREFIX0000`.. with `ENTRIES` `extends` entries each, every
//! key 64 characters and every value 1,024 four-byte characters (the most
//! bytes a value within the API's limits can take): 64 entries make the
//! largest user an update can leave (about 266 KB), 96 one that an older
//! version let updates grow to about 400 KB, DynamoDB's item limit.

use futures_util::stream::{self, StreamExt, TryStreamExt};
use qnlive_user_api::domain::{Extends, ImAccount, NewUser, UserId};
use qnlive_user_api::store::dynamodb_client;
use qnlive_user_api::telemetry::ErrorChain;
use qnlive_user_import::table::{ImportedUser, UsersTable};

const KEY_CHARS: usize = 64;
const VALUE_CHARS: usize = 1024;
/// U+1F600, four bytes in UTF-8 and in DynamoDB's size count.
const WIDEST_CHAR: char = '😀';

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: seed_large_users PREFIX COUNT ENTRIES";
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [prefix, count, entries] = args.as_slice() else {
        return Err(usage.into());
    };
    let (count, entries): (usize, usize) = (count.parse()?, entries.parse()?);
    let table = std::env::var("USERS_TABLE").map_err(|_| "USERS_TABLE is not set: name the table to fill")?;
    let users_table = UsersTable::new(dynamodb_client()?, &table);

    let value: String = std::iter::repeat_n(WIDEST_CHAR, VALUE_CHARS).collect();
    let extends: Extends = (0..entries)
        .map(|i| (format!("{i:0>KEY_CHARS$}"), value.clone()))
        .collect();
    let users = (0..count).map(|n| {
        let user_id = format!("{prefix}{n:04}");
        ImportedUser {
            user: NewUser {
                user_id: UserId::parse(user_id.clone(), "user_id").expect("a valid id"),
                nick: "n".repeat(64),
                avatar: "a".repeat(1024),
                extends: extends.clone(),
            },
            im: ImAccount {
                im_userid: 1_000_000 + n as i64,
                im_username: format!("ql{user_id}"),
                im_password: "p".repeat(24),
            },
            created_at: None,
            updated_at: None,
        }
    });
    stream::iter(users)
        .map(|user| {
            let users_table = &users_table;
            async move { users_table.import_user(&user).await }
        })
        .buffer_unordered(8)
        .try_collect::<Vec<_>>()
        .await
        .map_err(|e| format!("could not write a user: {}", ErrorChain(&e)))?;
    println!("{count} users {prefix}* with {entries} entries each in {table}");
    Ok(())
}
