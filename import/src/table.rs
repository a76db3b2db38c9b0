//! The import's writes to the service's users table: users brought over
//! from the original service's MySQL table get the item a registration
//! makes (the service's own layout, `qnlive_user_api::store::items`),
//! written only where no item is, and the IM-id counter is raised past the
//! imported ids. Here rather than in the service, so that the Lambda never
//! compiles what only the import does.

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use qnlive_user_api::domain::{ImAccount, NewUser};
use qnlive_user_api::store::items::*;
use qnlive_user_api::store::{failed_condition, DynamoDbStore, PutIfAbsent, StoreError};

/// A user as the original service stored it. The times are milliseconds
/// since the Unix epoch; `None` (a NULL or zero DATETIME) leaves the
/// attribute out, since nothing reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportedUser {
    pub user: NewUser,
    pub im: ImAccount,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportOutcome {
    /// Written now (in a dry run: would be).
    Imported,
    /// The very item is stored already: an earlier run (or an earlier
    /// attempt of this write) put it there.
    AlreadyPresent,
    /// A different item holds the id (a user registered with the service,
    /// or changed in MySQL since an earlier run): left as it is. Names the
    /// attributes that differ, never their values.
    Conflict { differing: Vec<String> },
}

fn imported_item(user: &ImportedUser) -> Item {
    let mut item = user_item(&user.user, &user.im, 0);
    for (name, value) in [(CREATED_AT, user.created_at), (UPDATED_AT, user.updated_at)] {
        match value {
            Some(ms) => item.insert(name.to_owned(), number(ms)),
            None => item.remove(name),
        };
    }
    item
}

/// What finding `stored` where `wanted` was to go means.
fn outcome(stored: Option<&Item>, wanted: &Item) -> ImportOutcome {
    let Some(stored) = stored else {
        return ImportOutcome::Imported;
    };
    let mut differing: Vec<String> = stored
        .keys()
        .chain(wanted.keys())
        .filter(|name| stored.get(*name) != wanted.get(*name))
        .cloned()
        .collect();
    differing.sort();
    differing.dedup();
    if differing.is_empty() {
        ImportOutcome::AlreadyPresent
    } else {
        ImportOutcome::Conflict { differing }
    }
}

/// The users table, as the import writes it.
#[derive(Clone, Debug)]
pub struct UsersTable {
    store: DynamoDbStore,
}

impl UsersTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        UsersTable {
            store: DynamoDbStore::new(client, table),
        }
    }

    /// Puts the user unless its key is taken (one conditional `PutItem`);
    /// a taken key is compared with what would have been written.
    pub async fn import_user(&self, user: &ImportedUser) -> Result<ImportOutcome, StoreError> {
        let item = imported_item(user);
        match self.store.put_if_absent(item.clone(), "PutItem(import)").await? {
            PutIfAbsent::Written => Ok(ImportOutcome::Imported),
            // Without the old item (never seen), assume the worst.
            PutIfAbsent::KeyTaken(stored) => Ok(outcome(Some(&stored.unwrap_or_default()), &item)),
        }
    }

    /// What [`Self::import_user`] would do, without writing: one `GetItem`.
    pub async fn check_imported_user(&self, user: &ImportedUser) -> Result<ImportOutcome, StoreError> {
        let output = self
            .store
            .client()
            .get_item()
            .table_name(self.store.table())
            .set_key(Some(user_key(&user.user.user_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("GetItem(import)", e))?;
        Ok(outcome(output.item.as_ref(), &imported_item(user)))
    }

    /// Raises the IM-id counter (the last id handed out) to at least
    /// `im_userid`, so that ids leased afterwards are above it. Never
    /// lowers it.
    pub async fn raise_im_counter(&self, im_userid: i64) -> Result<(), StoreError> {
        let result = self
            .store
            .client()
            .update_item()
            .table_name(self.store.table())
            .key(PK, AttributeValue::S(IM_COUNTER_KEY.into()))
            .update_expression("SET #next = :at_least")
            .condition_expression("attribute_not_exists(#next) OR #next < :at_least")
            .expression_attribute_names("#next", COUNTER_NEXT)
            .expression_attribute_values(":at_least", number(im_userid))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if failed_condition(&e) => Ok(()),
            Err(e) => Err(StoreError::from_sdk("UpdateItem(counter)", e)),
        }
    }

    /// `Ok(false)` when the table does not exist. Reads the counter item,
    /// which also proves that the credentials may read the table.
    pub async fn table_exists(&self) -> Result<bool, StoreError> {
        let result = self
            .store
            .client()
            .get_item()
            .table_name(self.store.table())
            .key(PK, AttributeValue::S(IM_COUNTER_KEY.into()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(StoreError::from_sdk("GetItem", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qnlive_user_api::domain::{Extends, UserId};

    fn imported(created_at: Option<i64>) -> ImportedUser {
        ImportedUser {
            user: NewUser {
                user_id: UserId::parse("张伟".into(), "user_id").unwrap(),
                nick: String::new(),
                avatar: "a".into(),
                extends: Extends::from([("k".into(), "v".into())]),
            },
            im: ImAccount {
                im_userid: 4_611_686_018_427_387_903,
                im_username: "ql张伟".into(),
                im_password: "p@ss".into(),
            },
            created_at,
            updated_at: Some(-30_610_224_000_000),
        }
    }

    #[test]
    fn the_item_is_a_registrations_with_the_original_times() {
        let item = imported_item(&imported(Some(1_653_000_000_000)));
        let registered = user_item(&imported(None).user, &imported(None).im, 0);
        assert_eq!(item[CREATED_AT], AttributeValue::N("1653000000000".into()));
        assert_eq!(item[UPDATED_AT], AttributeValue::N("-30610224000000".into()));
        let same = |name: &str| item[name] == registered[name];
        assert!(
            [PK, USER_ID, NICK, AVATAR, EXTENDS, IM_USERID, IM_USERNAME, IM_PASSWORD]
                .into_iter()
                .all(same)
        );
        assert_eq!(item.len(), registered.len());
        let without = imported_item(&imported(None));
        assert!(!without.contains_key(CREATED_AT) && without.contains_key(UPDATED_AT));
    }

    #[test]
    fn a_stored_item_is_the_same_write_or_a_conflict_naming_what_differs() {
        let wanted = imported_item(&imported(Some(1)));
        assert_eq!(outcome(None, &wanted), ImportOutcome::Imported);
        assert_eq!(outcome(Some(&wanted), &wanted), ImportOutcome::AlreadyPresent);
        let mut other = imported(Some(2));
        other.im.im_password = "another".into();
        other.updated_at = None;
        assert_eq!(
            outcome(Some(&imported_item(&other)), &wanted),
            ImportOutcome::Conflict {
                differing: vec![CREATED_AT.into(), IM_PASSWORD.into(), UPDATED_AT.into()]
            }
        );
        assert!(
            matches!(outcome(Some(&Item::new()), &wanted), ImportOutcome::Conflict { differing } if differing.len() == wanted.len())
        );
    }
}
