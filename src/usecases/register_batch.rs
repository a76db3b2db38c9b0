//! `POST /server/user/register/batch`: up to 200 users in one request.
//! Users that were not (or not only) registered are reported, each with
//! its [`Reason`]; this is the only place the reasons are written.

use super::{until, AccountsMissing, ImStep, ServiceError, UserService, IM_CONCURRENCY, IM_STEP_ON_REGISTER};
use crate::domain::{ImAccount, NewUser, UserId};
use crate::store::StoreError;
use crate::telemetry::ErrorChain;
use futures_util::future::join;
use futures_util::stream::{self, StreamExt};
use serde::{Serialize, Serializer};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::time::Instant;

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
    /// Registered, but the IM could not be reached in time: its IM account
    /// is completed when the user is next read.
    ImPending,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::AlreadyExists => "user already exists",
            Reason::Repeated => "repeated in this request: only its first occurrence was registered",
            Reason::Unavailable => "not written: database unavailable, try again",
            Reason::Failed => "not written: unexpected database error",
            Reason::ImPending => "registered; its IM account is pending and is completed when the user is next read",
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
    /// stored are left alone and make no IM call. Work stops at `end`, so
    /// that users still pending are reported rather than lost to a timeout.
    ///
    /// Fails as a whole only if the existence check or the IM accounts
    /// cannot be had; then nothing is written.
    pub async fn register_batch(&self, users: &[NewUser], end: Instant) -> Result<BatchRegistration, ServiceError> {
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
        let new_users: Vec<(&NewUser, ImAccount)> = first_occurrences
            .into_iter()
            .zip(accounts)
            .filter(|(user, _)| !existing.contains(&user.user_id))
            .collect();
        for id in existing {
            report.not_registered.insert(id, Reason::AlreadyExists);
        }

        let outcomes = if new_users.iter().any(|(_, account)| account.is_pending()) {
            self.claim_each(new_users, end).await
        } else {
            self.write_all(&new_users, end).await
        };
        report.not_registered.extend(outcomes);
        Ok(report)
    }

    /// Complete accounts need no IM step: all users are written with
    /// `BatchWriteItem`, 25 per call, all calls at once. `BatchWriteItem`
    /// takes no condition, so a user registered by another request between
    /// the existence check and this write is overwritten (the one race
    /// left; the single register cannot lose it).
    async fn write_all(&self, new_users: &[(&NewUser, ImAccount)], end: Instant) -> Vec<(UserId, Reason)> {
        let mut outcomes = Vec::new();
        if new_users.is_empty() {
            return outcomes;
        }
        for not_written in self.store.put_users(new_users, end).await {
            let reason = reason_for(&not_written.cause);
            // Logged here, where the failure becomes part of the reply.
            tracing::warn!(
                users = not_written.user_ids.len(),
                reason = reason.as_str(),
                error = %ErrorChain(&not_written.cause),
                "batch register could not write some users"
            );
            outcomes.extend(not_written.user_ids.into_iter().map(|id| (id, reason)));
        }
        outcomes
    }

    /// Pending accounts must reach the IM from exactly one request, so each
    /// user is claimed with its own conditional write, as a single register
    /// is, then registered in the IM: 16 users at a time. Once the IM has
    /// failed to answer, the rest are stored with their accounts pending
    /// rather than each waiting for it in turn.
    async fn claim_each(&self, new_users: Vec<(&NewUser, ImAccount)>, end: Instant) -> Vec<(UserId, Reason)> {
        let im_down = AtomicBool::new(false);
        // Made first and polled 16 at a time: the futures of a named async
        // fn, rather than a closure's, keep the handler's future `Send`.
        let claims: Vec<_> = new_users
            .into_iter()
            .map(|(user, account)| self.claim_one(user, account, end, &im_down))
            .collect();
        let outcomes: Vec<Option<(UserId, Reason)>> =
            stream::iter(claims).buffer_unordered(IM_CONCURRENCY).collect().await;
        outcomes.into_iter().flatten().collect()
    }

    /// One user of [`Self::claim_each`]: `None` when it was registered with
    /// a complete IM account.
    async fn claim_one(
        &self,
        user: &NewUser,
        account: ImAccount,
        end: Instant,
        im_down: &AtomicBool,
    ) -> Option<(UserId, Reason)> {
        let user_id = user.user_id.clone();
        if Instant::now() >= end {
            return Some((user_id, Reason::Unavailable));
        }
        match self.store.create_user(user, &account).await {
            Ok(()) if im_down.load(Ordering::Relaxed) => Some((user_id, Reason::ImPending)),
            Ok(()) => match self
                .complete_im_account(&user_id, &account, until(IM_STEP_ON_REGISTER, end))
                .await
            {
                ImStep::Completed(_) => None,
                ImStep::Pending { im_unavailable } => {
                    if im_unavailable {
                        im_down.store(true, Ordering::Relaxed);
                    }
                    Some((user_id, Reason::ImPending))
                }
            },
            Err(StoreError::Conflict) => Some((user_id, Reason::AlreadyExists)),
            Err(error) => {
                tracing::warn!(%user_id, error = %ErrorChain(&error), "batch register could not claim a user");
                Some((user_id, reason_for(&error)))
            }
        }
    }
}

fn reason_for(cause: &StoreError) -> Reason {
    if cause.is_unavailable() {
        Reason::Unavailable
    } else {
        Reason::Failed
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{id, local_service, logs_in, maxim_service, new_user, work_end};
    use super::*;
    use crate::im::scripted_maxim::Call;
    use std::time::Duration;

    fn numbered(prefix: &str, count: usize) -> Vec<NewUser> {
        (0..count).map(|i| new_user(&format!("{prefix}{i}"))).collect()
    }

    fn batch(ids: &[&str]) -> Vec<NewUser> {
        ids.iter().map(|user_id| new_user(user_id)).collect()
    }

    fn reasons(pairs: &[(&str, Reason)]) -> BTreeMap<UserId, Reason> {
        pairs.iter().map(|(user_id, reason)| (id(user_id), *reason)).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_repeated_id_registers_once_from_its_first_occurrence_and_repeats_are_listed() {
        let (users, table) = local_service();
        let mut users_sent = batch(&["a", "b", "a", "a"]);
        users_sent[2].nick = "second a".into();
        let report = users.register_batch(&users_sent, work_end()).await.unwrap();
        assert_eq!(report.not_registered, reasons(&[("a", Reason::Repeated)]));
        assert_eq!(table.stored(&id("a")).unwrap().nick, "nick of a");
        assert_eq!(table.user_count(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn users_stored_before_are_listed_as_existing_and_left_alone() {
        let (users, table) = local_service();
        users.register(&new_user("old"), work_end()).await.unwrap();
        let before = table.stored(&id("old")).unwrap();
        let mut sent = batch(&["old", "new", "old"]);
        sent[0].nick = "changed".into();
        let report = users.register_batch(&sent, work_end()).await.unwrap();
        // The reply has one entry per id: an existing id sent twice is
        // reported as existing.
        assert_eq!(report.not_registered, reasons(&[("old", Reason::AlreadyExists)]));
        assert_eq!(table.stored(&id("old")), Some(before));
        assert!(table.stored(&id("new")).is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn every_new_user_gets_its_own_im_user_id() {
        let (users, table) = local_service();
        let ids: Vec<String> = (0..120).map(|i| format!("u{i}")).collect();
        let sent: Vec<NewUser> = ids.iter().map(|user_id| new_user(user_id)).collect();
        users.register_batch(&sent, work_end()).await.unwrap();
        let im_ids: HashSet<i64> = ids
            .iter()
            .map(|user_id| table.stored(&id(user_id)).unwrap().im.im_userid)
            .collect();
        assert_eq!(im_ids.len(), 120);
        assert!(!im_ids.contains(&0));
    }

    #[tokio::test(start_paused = true)]
    async fn unprocessed_users_are_written_in_later_rounds() {
        let (users, table) = local_service();
        table.inject(|faults| faults.unprocessed = 5);
        let ids: Vec<String> = (0..60).map(|i| format!("u{i}")).collect();
        let sent: Vec<NewUser> = ids.iter().map(|user_id| new_user(user_id)).collect();
        let report = users.register_batch(&sent, work_end()).await.unwrap();
        assert_eq!(report, BatchRegistration::default());
        assert_eq!(table.user_count(), 60);
    }

    #[tokio::test(start_paused = true)]
    async fn users_still_unprocessed_at_the_end_are_listed_as_unavailable_not_dropped() {
        let (users, table) = local_service();
        table.inject(|faults| faults.unprocessed = u32::MAX);
        let started = Instant::now();
        let end = started + Duration::from_secs(2);
        let report = users.register_batch(&batch(&["a", "b", "c"]), end).await.unwrap();
        assert!(Instant::now() <= end, "the retries stop at the end");
        assert_eq!(report.not_registered, reasons(&[("c", Reason::Unavailable)]));
        assert!(table.stored(&id("c")).is_none());
        assert_eq!(table.user_count(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_existence_check_fails_the_batch_and_writes_nothing() {
        let (users, table) = local_service();
        table.inject(|faults| faults.unavailable = true);
        let result = users.register_batch(&batch(&["a", "b"]), work_end()).await;
        assert!(matches!(result, Err(ServiceError::Unavailable(_))), "{result:?}");
        table.inject(|faults| faults.unavailable = false);
        assert_eq!(table.user_count(), 0);
    }

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

    #[tokio::test(start_paused = true)]
    async fn with_lanying_each_new_user_is_claimed_then_made_in_the_im() {
        let (users, table, lanying) = maxim_service();
        users.register(&new_user("old"), work_end()).await.unwrap();
        let mut sent = numbered("new", 30);
        sent.extend([new_user("old"), new_user("new1")]);
        let report = users.register_batch(&sent, work_end()).await.unwrap();
        assert_eq!(
            report.not_registered,
            reasons(&[("old", Reason::AlreadyExists), ("new1", Reason::Repeated)])
        );
        assert_eq!(
            lanying.calls(Call::Register),
            31,
            "existing and repeated users make no IM call"
        );
        for user in &sent[..30] {
            let stored = table.stored(&user.user_id).unwrap();
            assert_eq!(logs_in(&lanying, &stored), Some(stored.im.im_userid));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_user_claimed_meanwhile_by_another_request_is_existing_and_never_reaches_the_im() {
        let (users, table, lanying) = maxim_service();
        table.inject(|faults| faults.conflicts = 1);
        let report = users.register_batch(&batch(&["a"]), work_end()).await.unwrap();
        assert_eq!(report.not_registered, reasons(&[("a", Reason::AlreadyExists)]));
        assert_eq!(lanying.calls(Call::Register), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn with_the_im_down_every_new_user_is_registered_pending_after_few_im_calls() {
        let (users, table, lanying) = maxim_service();
        lanying.script(|im| im.down = true);
        let sent = numbered("u", 200);
        let report = users.register_batch(&sent, work_end()).await.unwrap();
        assert_eq!(report.not_registered.len(), 200);
        assert!(report
            .not_registered
            .values()
            .all(|reason| *reason == Reason::ImPending));
        assert_eq!(table.user_count(), 200, "registered all the same");
        let calls = lanying.calls(Call::Register);
        assert!(calls <= 16 * 3, "{calls} IM calls: the rest wait for no IM");
    }

    #[tokio::test(start_paused = true)]
    async fn one_refusal_from_the_im_does_not_stop_the_batch_registering_the_others() {
        let (users, _table, lanying) = maxim_service();
        lanying.script(|im| im.refused_registers = 1);
        let report = users.register_batch(&numbered("u", 40), work_end()).await.unwrap();
        assert_eq!(report.not_registered.len(), 1, "{report:?}");
        assert!(report
            .not_registered
            .values()
            .all(|reason| *reason == Reason::ImPending));
        assert_eq!(lanying.calls(Call::Register), 40, "a refusal is not an outage");
    }

    #[tokio::test(start_paused = true)]
    async fn users_not_yet_claimed_at_the_end_are_listed_as_unavailable() {
        let (users, table, lanying) = maxim_service();
        lanying.script(|im| im.stall = true);
        let end = Instant::now() + Duration::from_millis(500);
        let report = users.register_batch(&numbered("u", 40), end).await.unwrap();
        assert!(Instant::now() <= end + Duration::from_millis(1));
        let unavailable = report
            .not_registered
            .values()
            .filter(|r| **r == Reason::Unavailable)
            .count();
        let pending = report
            .not_registered
            .values()
            .filter(|r| **r == Reason::ImPending)
            .count();
        assert_eq!((unavailable + pending, unavailable > 0), (40, true), "{report:?}");
        assert_eq!(table.user_count(), pending, "each listed pending user is stored");
    }

    #[tokio::test(start_paused = true)]
    async fn a_claim_whose_every_reply_was_lost_is_listed_unavailable_and_a_retry_finds_it() {
        let (users, table, lanying) = maxim_service();
        table.inject(|faults| faults.lost_replies = u32::MAX);
        let report = users.register_batch(&batch(&["a"]), work_end()).await.unwrap();
        assert_eq!(report.not_registered, reasons(&[("a", Reason::Unavailable)]));
        assert_eq!(
            lanying.calls(Call::Register),
            0,
            "an unconfirmed claim makes no IM call"
        );
        table.inject(|faults| faults.lost_replies = 0);
        let retry = users.register_batch(&batch(&["a"]), work_end()).await.unwrap();
        assert_eq!(retry.not_registered, reasons(&[("a", Reason::AlreadyExists)]));
    }
}
