//! `GET /server/user/info|profile/{user_id}` and `GET /server/user/infos|profiles`.

use super::{until, ImStep, ServiceError, UserService, IM_CONCURRENCY, IM_STEP_ON_READ};
use crate::domain::{User, UserId};
use futures_util::stream::{self, StreamExt};
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::time::Instant;

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
