//! `POST /server/user/register`: one new user with its IM account.

use super::{AccountsMissing, ServiceError, UserService};
use crate::domain::NewUser;

impl UserService {
    /// Registers `user`; `AlreadyExists` if its id is taken. Never
    /// overwrites: the write is conditional.
    pub async fn register(&self, user: &NewUser) -> Result<(), ServiceError> {
        let account = self
            .im
            .new_accounts(&[&user.user_id])
            .await?
            .pop()
            .ok_or_else(|| ServiceError::Internal(AccountsMissing { wanted: 1, got: 0 }.into()))?;
        self.store.create_user(user, &account).await?;
        Ok(())
    }
}
