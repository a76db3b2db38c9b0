//! The secrets the function needs at run time: the Qiniu key pairs and the
//! Lanying IM admin token.
//!
//! Deployed, they live in AWS Secrets Manager and are read at init, kept in
//! memory and read again as [`refresh`] allows, never put in the function's
//! environment (where anyone allowed `lambda:GetFunctionConfiguration`
//! would read them, and a new key would need a redeploy). For local runs
//! they may be given in the environment instead, and are then fixed.
//! Nothing here ever logs a secret's value: only the secret's id and what
//! went wrong.

pub mod refresh;
mod secrets_manager;

pub use refresh::{ReadError, ReadFuture, ReadPolicy, Refreshing};
pub use secrets_manager::SecretsManager;

/// `what` (for logs: "the Qiniu keys"), read from the secret `secret_id`
/// and parsed by `parse` at every read; a value `parse` refuses is a failed
/// read (the value before stays). `parse`'s error must not hold the value.
pub fn from_secrets_manager<T: Send + Sync + 'static>(
    client: &SecretsManager,
    policy: ReadPolicy,
    what: &str,
    secret_id: &str,
    parse: fn(&str) -> Result<T, String>,
) -> Refreshing<T> {
    let (client, id) = (client.clone(), secret_id.to_owned());
    Refreshing::read_by(format!("{what} from secret {secret_id}"), policy, move || {
        let (client, id) = (client.clone(), id.clone());
        Box::pin(async move {
            let text = client.secret_string(&id).await?;
            parse(&text).map_err(|why| ReadError::from(format!("the secret {id} {why}")))
        })
    })
}
