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

#[cfg(test)]
mod tests {
    use super::super::testing::{id, local_service, new_user, work_end};
    use super::*;
    use crate::domain::validation::MAX_EXTENDS_ENTRIES;
    use crate::domain::Extends;

    fn extends(keys: impl IntoIterator<Item = String>) -> Extends {
        keys.into_iter().map(|key| (key, "v".to_owned())).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn an_update_changes_what_is_given_and_merges_extends() {
        let (users, table) = local_service();
        let mut registered = new_user("a");
        registered.extends = extends(["kept".into(), "changed".into()]);
        users.register(&registered, work_end()).await.unwrap();
        let changes = UserChanges {
            nick: Some("new nick".into()),
            avatar: None,
            extends: Extends::from([("changed".into(), "2".into()), ("added".into(), "3".into())]),
        };
        users.update(&id("a"), &changes).await.unwrap();
        let stored = table.stored(&id("a")).unwrap();
        assert_eq!(stored.nick, "new nick");
        assert_eq!(stored.avatar, registered.avatar);
        let merged: Vec<(&str, &str)> = stored.extends.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(merged, [("added", "3"), ("changed", "2"), ("kept", "v")]);
    }

    #[tokio::test(start_paused = true)]
    async fn an_update_of_an_unknown_user_is_not_found_and_stores_nothing() {
        let (users, table) = local_service();
        let result = users.update(&id("nobody"), &UserChanges::default()).await;
        assert!(matches!(result, Err(ServiceError::NotFound)), "{result:?}");
        assert_eq!(table.user_count(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn an_update_past_the_extends_bound_is_invalid_and_changes_nothing() {
        let (users, table) = local_service();
        let mut registered = new_user("a");
        registered.extends = extends((0..MAX_EXTENDS_ENTRIES).map(|i| format!("k{i}")));
        users.register(&registered, work_end()).await.unwrap();
        let changes = UserChanges {
            nick: Some("new nick".into()),
            avatar: None,
            extends: extends(["one more".into()]),
        };
        let result = users.update(&id("a"), &changes).await;
        assert!(matches!(result, Err(ServiceError::Invalid(_))), "{result:?}");
        assert_eq!(table.stored(&id("a")).unwrap().nick, registered.nick);
    }
}
