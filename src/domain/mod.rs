//! The domain: what a user is, which input is valid, and the IM account
//! each user holds. It knows nothing of DynamoDB, Lambda or HTTP; every
//! other layer knows it.

pub mod im_account;
pub mod input;
pub mod user;
pub mod user_id;
pub mod validation;

pub use im_account::ImAccount;
pub use user::{Extends, NewUser, User, UserChanges, UserInfo, UserProfile};
pub use user_id::UserId;
pub use validation::InvalidInput;
