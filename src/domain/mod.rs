//! The domain: what a user is, which input is valid, and the IM account
//! each user holds. It knows nothing of DynamoDB, Lambda, HTTP or JSON:
//! adapters hand its constructors the values they found ([`GivenUser`]),
//! and every other layer knows it.

pub mod im_account;
pub mod user;
pub mod user_id;
pub mod validation;

pub use im_account::ImAccount;
pub use user::{Extends, GivenExtends, GivenUser, NewUser, User, UserChanges, UserInfo, UserProfile};
pub use user_id::UserId;
pub use validation::{Field, Given, InvalidInput, Rule, Violations};
