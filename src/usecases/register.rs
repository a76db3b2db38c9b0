//! `POST /server/user/register`: one new user with its IM account.

use super::{until, AccountsMissing, ServiceError, UserService, IM_STEP_ON_REGISTER};
use crate::domain::NewUser;
use tokio::time::Instant;

impl UserService {
    /// Registers `user`; `AlreadyExists` if another registration holds its
    /// id. Never overwrites, and never touches the IM account of a user
    /// that exists: the conditional write claims the id first, with the
    /// credentials chosen once, and only the claim's winner asks the IM
    /// (until `end` at the latest). If the IM cannot be reached the user is
    /// stored with its IM account pending, completed on a later read.
    pub async fn register(&self, user: &NewUser, end: Instant) -> Result<(), ServiceError> {
        let account = self
            .im
            .new_accounts(&[&user.user_id])
            .await?
            .pop()
            .ok_or_else(|| ServiceError::Internal(AccountsMissing { wanted: 1, got: 0 }.into()))?;
        self.store.create_user(user, &account).await?;
        if account.is_pending() {
            self.complete_im_account(&user.user_id, &account, until(IM_STEP_ON_REGISTER, end))
                .await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{id, local_service, logs_in, maxim_service, new_user, work_end};
    use super::*;
    use crate::im::scripted_maxim::Call;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn a_new_user_is_stored_with_a_complete_im_account() {
        let (users, table) = local_service();
        users.register(&new_user("ann"), work_end()).await.unwrap();
        let stored = table.stored(&id("ann")).unwrap();
        assert_eq!(stored.nick, "nick of ann");
        assert_eq!(stored.im.im_username, "qlann");
        assert!(!stored.im.is_pending());
    }

    #[tokio::test(start_paused = true)]
    async fn a_taken_id_is_already_exists_and_the_stored_user_is_left_alone() {
        let (users, table) = local_service();
        users.register(&new_user("ann"), work_end()).await.unwrap();
        let before = table.stored(&id("ann")).unwrap();
        let mut again = new_user("ann");
        again.nick = "another nick".into();
        let result = users.register(&again, work_end()).await;
        assert!(matches!(result, Err(ServiceError::AlreadyExists)), "{result:?}");
        assert_eq!(table.stored(&id("ann")), Some(before));
    }

    #[tokio::test(start_paused = true)]
    async fn a_register_racing_another_of_the_same_id_is_already_exists() {
        let (users, table) = local_service();
        table.inject(|faults| faults.conflicts = 1);
        let result = users.register(&new_user("ann"), work_end()).await;
        assert!(matches!(result, Err(ServiceError::AlreadyExists)), "{result:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_register_whose_reply_was_lost_meets_its_own_write_and_succeeds() {
        let (users, table) = local_service();
        users.warm_up().await.unwrap();
        table.inject(|faults| faults.lost_replies = 1);
        users.register(&new_user("ann"), work_end()).await.unwrap();
        assert_eq!(table.user_count(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_register_whose_every_reply_was_lost_is_unavailable_and_its_retry_already_exists() {
        let (users, table) = local_service();
        // The block of IM ids is leased ahead, so that only the put is lost.
        users.warm_up().await.unwrap();
        table.inject(|faults| faults.lost_replies = u32::MAX);
        let result = users.register(&new_user("ann"), work_end()).await;
        assert!(matches!(result, Err(ServiceError::Unavailable(_))), "{result:?}");
        table.inject(|faults| faults.lost_replies = 0);
        assert!(table.stored(&id("ann")).is_some(), "the write took effect");
        let retry = users.register(&new_user("ann"), work_end()).await;
        assert!(matches!(retry, Err(ServiceError::AlreadyExists)), "{retry:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn an_unavailable_database_is_unavailable_and_nothing_is_stored() {
        let (users, table) = local_service();
        table.inject(|faults| faults.unavailable = true);
        let result = users.register(&new_user("ann"), work_end()).await;
        assert!(matches!(result, Err(ServiceError::Unavailable(_))), "{result:?}");
        assert_eq!(table.user_count(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn with_lanying_the_stored_credentials_log_in_after_one_im_call() {
        let (users, table, lanying) = maxim_service();
        users.register(&new_user("ann"), work_end()).await.unwrap();
        let stored = table.stored(&id("ann")).unwrap();
        assert!(!stored.im.is_pending());
        assert_eq!(logs_in(&lanying, &stored), Some(stored.im.im_userid));
        assert_eq!(lanying.calls(Call::Register), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn an_account_the_im_already_has_is_adopted_with_the_stored_password() {
        let (users, table, lanying) = maxim_service();
        let made_before = lanying.add_account("qlann", "the original service's password");
        users.register(&new_user("ann"), work_end()).await.unwrap();
        let stored = table.stored(&id("ann")).unwrap();
        assert_eq!(stored.im.im_userid, made_before);
        assert_eq!(logs_in(&lanying, &stored), Some(made_before));
    }

    #[tokio::test(start_paused = true)]
    async fn the_id_is_claimed_first_so_a_taken_id_never_reaches_the_im() {
        let (users, table, lanying) = maxim_service();
        table.inject(|faults| faults.conflicts = 1);
        let result = users.register(&new_user("ann"), work_end()).await;
        assert!(matches!(result, Err(ServiceError::AlreadyExists)), "{result:?}");
        assert_eq!(lanying.calls(Call::Register), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn with_the_im_down_the_user_is_registered_with_its_account_pending() {
        let (users, table, lanying) = maxim_service();
        lanying.script(|im| im.down = true);
        users.register(&new_user("ann"), work_end()).await.unwrap();
        let stored = table.stored(&id("ann")).unwrap();
        assert!(stored.im.is_pending());
        assert_eq!(stored.im.im_username, "qlann");
        assert_eq!(stored.profile().im_password, "", "no login that does not work");
    }

    #[tokio::test(start_paused = true)]
    async fn an_im_that_answers_5xx_is_retried_within_the_call() {
        let (users, table, lanying) = maxim_service();
        lanying.script(|im| im.server_errors = 2);
        users.register(&new_user("ann"), work_end()).await.unwrap();
        assert_eq!(lanying.calls(Call::Register), 3);
        assert!(!table.stored(&id("ann")).unwrap().im.is_pending());
    }

    #[tokio::test(start_paused = true)]
    async fn an_im_that_refuses_leaves_the_account_pending_without_retrying() {
        let (users, table, lanying) = maxim_service();
        lanying.script(|im| im.refused_registers = 1);
        users.register(&new_user("ann"), work_end()).await.unwrap();
        assert!(table.stored(&id("ann")).unwrap().im.is_pending());
        assert_eq!(lanying.calls(Call::Register), 1, "a refusal is not retried");
    }

    #[tokio::test(start_paused = true)]
    async fn the_im_step_is_bounded_and_a_late_account_is_adopted_on_the_next_read() {
        let (users, table, lanying) = maxim_service();
        lanying.script(|im| im.delay = Duration::from_secs(3));
        let started = Instant::now();
        users.register(&new_user("ann"), work_end()).await.unwrap();
        let took = started.elapsed();
        assert!(took <= IM_STEP_ON_REGISTER, "the IM step is bounded: {took:?}");
        assert!(table.stored(&id("ann")).unwrap().im.is_pending());

        // The IM made the account after the service stopped waiting; the
        // next read finds the name taken and adopts it.
        lanying.script(|im| im.delay = Duration::ZERO);
        let read = users.user(&id("ann"), work_end()).await.unwrap();
        assert_eq!(logs_in(&lanying, &read), Some(read.im.im_userid));
        assert!(lanying.calls(Call::ChangePassword) >= 1, "adopted");
        assert_eq!(table.stored(&id("ann")), Some(read), "and recorded");
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_im_costs_a_register_no_more_than_its_work_end() {
        let (users, table, lanying) = maxim_service();
        lanying.script(|im| im.stall = true);
        let started = Instant::now();
        let end = started + Duration::from_secs(1);
        users.register(&new_user("ann"), end).await.unwrap();
        assert!(Instant::now() <= end);
        assert!(table.stored(&id("ann")).unwrap().im.is_pending());
    }
}
