//! `GET /server/user/info|profile/{user_id}` and `GET /server/user/infos|profiles`.

use super::{until, ImStep, ServiceError, UserService, IM_CONCURRENCY, IM_STEP_ON_READ};
use crate::domain::{User, UserId};
use futures_util::stream::{self, StreamExt};
use std::collections::HashMap;
use std::ops::ControlFlow;
use tokio::time::Instant;

impl UserService {
    /// One user; `NotFound` if there is none. A pending IM account is
    /// completed first, if the IM answers in time.
    pub async fn user(&self, user_id: &UserId, end: Instant) -> Result<User, ServiceError> {
        let mut user = self.store.get_user(user_id).await?.ok_or(ServiceError::NotFound)?;
        self.complete_pending(std::slice::from_mut(&mut user), end).await;
        Ok(user)
    }

    /// The users among `user_ids` (already free of repeats), in that order;
    /// unknown ids are left out. Pending IM accounts are completed first,
    /// several at a time, if the IM answers in time.
    ///
    /// `AnswerTooLarge` as soon as the users that have arrived would take
    /// more than `max_bytes` as JSON (their info view, the smaller of the
    /// two): no more is read, so memory stays bounded by what a reply may
    /// hold, however large the stored users are.
    pub async fn users(&self, user_ids: &[UserId], end: Instant, max_bytes: usize) -> Result<Vec<User>, ServiceError> {
        let ids: Vec<&UserId> = user_ids.iter().collect();
        let mut found = HashMap::with_capacity(ids.len());
        let mut json_bytes = 0usize;
        self.store
            .read_users(&ids, max_bytes, &mut |user| {
                json_bytes = json_bytes.saturating_add(user.info_json_len());
                if json_bytes > max_bytes {
                    return ControlFlow::Break(());
                }
                found.insert(user.user_id.clone(), user);
                ControlFlow::Continue(())
            })
            .await?;
        if json_bytes > max_bytes {
            return Err(ServiceError::AnswerTooLarge);
        }
        let mut users: Vec<User> = user_ids.iter().filter_map(|id| found.remove(id)).collect();
        self.complete_pending(&mut users, end).await;
        Ok(users)
    }

    async fn complete_pending(&self, users: &mut [User], end: Instant) {
        let end = until(IM_STEP_ON_READ, end);
        let completions: Vec<_> = users
            .iter_mut()
            .filter(|user| user.im.is_pending())
            .map(|user| self.complete_for_read(user, end))
            .collect();
        stream::iter(completions)
            .buffer_unordered(IM_CONCURRENCY)
            .collect::<Vec<()>>()
            .await;
    }

    async fn complete_for_read(&self, user: &mut User, end: Instant) {
        if let ImStep::Completed(im_userid) = self.complete_im_account(&user.user_id, &user.im, end).await {
            user.im.im_userid = im_userid;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{id, local_service, logs_in, maxim_service, new_user, work_end};
    use super::*;
    use crate::im::scripted_maxim::Call;
    use crate::store::StoreError;

    const NO_LIMIT: usize = usize::MAX;

    #[tokio::test(start_paused = true)]
    async fn an_unknown_user_is_not_found() {
        let (users, _table) = local_service();
        let result = users.user(&id("nobody"), work_end()).await;
        assert!(matches!(result, Err(ServiceError::NotFound)), "{result:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn many_users_come_in_the_order_asked_without_unknown_ids() {
        let (users, _table) = local_service();
        for user_id in ["a", "b", "c"] {
            users.register(&new_user(user_id), work_end()).await.unwrap();
        }
        let asked = [id("c"), id("nobody"), id("a")];
        let found = users.users(&asked, work_end(), NO_LIMIT).await.unwrap();
        let found: Vec<&str> = found.iter().map(|user| user.user_id.as_str()).collect();
        assert_eq!(found, ["c", "a"]);
    }

    #[tokio::test(start_paused = true)]
    async fn users_over_the_answer_limit_are_answer_too_large() {
        let (users, _table) = local_service();
        users.register(&new_user("a"), work_end()).await.unwrap();
        users.register(&new_user("b"), work_end()).await.unwrap();
        let one = users.user(&id("a"), work_end()).await.unwrap().info_json_len();
        let both = [id("a"), id("b")];
        let result = users.users(&both, work_end(), 2 * one - 1).await;
        assert!(matches!(result, Err(ServiceError::AnswerTooLarge)), "{result:?}");
        // Exactly at the limit is still an answer.
        assert_eq!(users.users(&both, work_end(), 2 * one).await.unwrap().len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_read_the_store_finds_too_large_is_answer_too_large() {
        assert!(matches!(
            ServiceError::from(StoreError::ReadTooLarge),
            ServiceError::AnswerTooLarge
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn pending_accounts_are_completed_by_the_next_read_once_the_im_is_back() {
        let (users, table, lanying) = maxim_service();
        lanying.script(|im| im.down = true);
        let ids = [id("a"), id("b"), id("c")];
        for user_id in &ids {
            users.register(&new_user(user_id.as_str()), work_end()).await.unwrap();
        }
        // While the IM is down, reads show the accounts pending.
        let read = users.users(&ids, work_end(), NO_LIMIT).await.unwrap();
        assert!(read.iter().all(|user| user.im.is_pending()));

        lanying.script(|im| im.down = false);
        let calls_while_down = lanying.calls(Call::Register);
        let read = users.users(&ids, work_end(), NO_LIMIT).await.unwrap();
        for user in &read {
            assert_eq!(logs_in(&lanying, user), Some(user.im.im_userid), "{}", user.user_id);
            assert_eq!(table.stored(&user.user_id).as_ref(), Some(user), "recorded");
        }
        let single = users.user(&id("a"), work_end()).await.unwrap();
        assert!(!single.im.is_pending());
        assert_eq!(
            lanying.calls(Call::Register),
            calls_while_down + 3,
            "one call per pending account; a complete account makes none"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_single_read_completes_a_pending_account() {
        let (users, table, lanying) = maxim_service();
        lanying.script(|im| im.refused_registers = 1);
        users.register(&new_user("a"), work_end()).await.unwrap();
        let read = users.user(&id("a"), work_end()).await.unwrap();
        assert_eq!(logs_in(&lanying, &read), Some(read.im.im_userid));
        assert_eq!(table.stored(&id("a")), Some(read));
    }

    #[tokio::test(start_paused = true)]
    async fn an_account_that_changed_meanwhile_is_shown_pending_not_with_another_login() {
        let (users, table, lanying) = maxim_service();
        lanying.script(|im| im.down = true);
        users.register(&new_user("a"), work_end()).await.unwrap();
        lanying.script(|im| im.down = false);
        // Recording the IM id finds other credentials stored.
        let mut stale = table.stored(&id("a")).unwrap();
        stale.im.im_password = "not the stored one".into();
        let mut shown = [stale];
        users.complete_pending(&mut shown, work_end()).await;
        assert!(shown[0].im.is_pending());
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_im_costs_a_read_no_more_than_its_im_step() {
        let (users, _table, lanying) = maxim_service();
        lanying.script(|im| im.down = true);
        users.register(&new_user("a"), work_end()).await.unwrap();
        lanying.script(|im| {
            im.down = false;
            im.stall = true;
        });
        let started = Instant::now();
        let read = users.user(&id("a"), work_end()).await.unwrap();
        assert!(started.elapsed() <= IM_STEP_ON_READ, "{:?}", started.elapsed());
        assert!(read.im.is_pending());
    }
}
