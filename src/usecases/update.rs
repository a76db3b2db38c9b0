//! `PUT /server/user/{user_id}`: change what is given, merge `extends`.

use super::{ServiceError, UserService};
use crate::domain::{UserChanges, UserId};

impl UserService {
    /// `NotFound` for an unknown user; `Invalid` if the merged `extends`
    /// would hold more entries than a user may; `TooLarge` if the merged
    /// user would not fit in one item.
    pub async fn update(&self, user_id: &UserId, changes: &UserChanges) -> Result<(), ServiceError> {
        Ok(self.store.update_user(user_id, changes).await?)
    }
}
