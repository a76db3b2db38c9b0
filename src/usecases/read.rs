//! `GET /server/user/info|profile/{user_id}` and `GET /server/user/infos|profiles`.

use super::{ServiceError, UserService};
use crate::domain::{User, UserId};

impl UserService {
    /// One user; `NotFound` if there is none.
    pub async fn user(&self, user_id: &UserId) -> Result<User, ServiceError> {
        self.store.get_user(user_id).await?.ok_or(ServiceError::NotFound)
    }

    /// The users among `user_ids` (already free of repeats), in that order;
    /// unknown ids are left out.
    pub async fn users(&self, user_ids: &[UserId]) -> Result<Vec<User>, ServiceError> {
        let ids: Vec<&UserId> = user_ids.iter().collect();
        let mut found = self.store.get_users(&ids).await?;
        Ok(user_ids.iter().filter_map(|id| found.remove(id)).collect())
    }
}
