//! `POST /server/user/register/batch`: up to 200 users in one request.
//! Users that were not (or not only) registered are reported, each with
//! its [`Reason`]; this is the only place the reasons are written.

use super::{AccountsMissing, ServiceError, UserService};
use crate::domain::{NewUser, UserId};
use crate::telemetry::ErrorChain;
use futures_util::future::join;
use serde::{Serialize, Serializer};
use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

/// Why a user of a batch is in the reply's `data`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Stored before this request; left as it was.
    AlreadyExists,
    /// A later occurrence of an id in the same request.
    Repeated,
    /// DynamoDB stayed busy or unreachable; registering it again may work.
    Unavailable,
    /// DynamoDB refused the write in a way retrying does not cure.
    Failed,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::AlreadyExists => "user already exists",
            Reason::Repeated => "repeated in this request: only its first occurrence was registered",
            Reason::Unavailable => "not written: database unavailable, try again",
            Reason::Failed => "not written: unexpected database error",
        }
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// The outcome of a batch register: every user not in `not_registered` was
/// registered by this request.
#[derive(Debug, Default, PartialEq)]
pub struct BatchRegistration {
    pub not_registered: BTreeMap<UserId, Reason>,
}

impl UserService {
    /// Registers every new user of `users` (1..=200, already validated).
    /// Repeats register once, from their first occurrence; users already
    /// stored are left alone. Writes stop retrying at `writes_end`, so that
    /// users still pending are reported rather than lost to a timeout.
    ///
    /// Fails as a whole only if the existence check or the IM accounts
    /// cannot be had; then nothing is written.
    pub async fn register_batch(
        &self,
        users: &[NewUser],
        writes_end: Instant,
    ) -> Result<BatchRegistration, ServiceError> {
        let mut report = BatchRegistration::default();
        let mut seen = HashSet::with_capacity(users.len());
        let mut first_occurrences: Vec<&NewUser> = Vec::with_capacity(users.len());
        for user in users {
            if seen.insert(&user.user_id) {
                first_occurrences.push(user);
            } else {
                report.not_registered.insert(user.user_id.clone(), Reason::Repeated);
            }
        }

        // Which users exist, and IM accounts for all of them, at once: an
        // IM-id lease then costs no extra round trip. Accounts of users
        // found to exist are dropped (ids are unique, not contiguous).
        let ids: Vec<&UserId> = first_occurrences.iter().map(|u| &u.user_id).collect();
        let (existing, accounts) = join(self.store.existing_user_ids(&ids), self.im.new_accounts(&ids)).await;
        let (existing, accounts): (HashSet<UserId>, _) = (existing?.into_iter().collect(), accounts?);
        if accounts.len() != ids.len() {
            let missing = AccountsMissing {
                wanted: ids.len(),
                got: accounts.len(),
            };
            return Err(ServiceError::Internal(missing.into()));
        }
        let to_write: Vec<_> = first_occurrences
            .into_iter()
            .zip(accounts)
            .filter(|(user, _)| !existing.contains(&user.user_id))
            .collect();
        for id in existing {
            report.not_registered.insert(id, Reason::AlreadyExists);
        }

        if !to_write.is_empty() {
            for not_written in self.store.put_users(&to_write, writes_end).await {
                let reason = if not_written.cause.is_unavailable() {
                    Reason::Unavailable
                } else {
                    Reason::Failed
                };
                // Logged here, where the failure becomes part of the reply.
                tracing::warn!(
                    users = not_written.user_ids.len(),
                    reason = reason.as_str(),
                    error = %ErrorChain(&not_written.cause),
                    "batch register could not write some users"
                );
                for id in not_written.user_ids {
                    report.not_registered.insert(id, reason);
                }
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_serialize_as_their_text() {
        let report = BTreeMap::from([
            (UserId::parse("a".into(), "user_id").unwrap(), Reason::AlreadyExists),
            (UserId::parse("b".into(), "user_id").unwrap(), Reason::Repeated),
        ]);
        assert_eq!(
            serde_json::to_string(&report).unwrap(),
            r#"{"a":"user already exists","b":"repeated in this request: only its first occurrence was registered"}"#
        );
    }
}
