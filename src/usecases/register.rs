//! `POST /server/user/register`: one new user with its IM account.

use super::{until, AccountsMissing, ServiceError, UserService, IM_STEP_ON_REGISTER};
use crate::domain::NewUser;
use std::time::Instant;

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
