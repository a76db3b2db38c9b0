//! Configuration from the environment, read once at start-up. DynamoDB's
//! endpoint and region are not here: the SDK reads the standard AWS
//! variables (`AWS_ENDPOINT_URL_DYNAMODB`, `AWS_REGION`) itself.

use crate::auth::KeyRing;
use std::fmt;

pub const DEFAULT_IM_USERNAME_PREFIX: &str = "ql";

#[derive(Clone, Debug)]
pub struct Config {
    pub users_table: String,
    pub auth: AuthMode,
    pub im_username_prefix: String,
    /// A custom domain's API mapping key (e.g. `/users`), which API Gateway
    /// strips before the function sees the path but the client signed.
    pub path_prefix: Option<String>,
    /// `REQUIRE_QINIU_DATE=true`: refuse signed requests without a signed
    /// `X-Qiniu-Date`, so that a captured request cannot be replayed after
    /// 15 minutes. Off by default: older clients do not send the header.
    pub require_qiniu_date: bool,
}

#[derive(Clone, Debug)]
pub enum AuthMode {
    /// Requests must carry a valid token made with one of these keys.
    Keys(KeyRing),
    /// `AUTH_DISABLED=true`: every request is let in.
    Disabled,
    /// Neither keys nor an explicit opt-out: every request is refused.
    NoKeysConfigured,
}

#[derive(Debug, PartialEq, Eq)]
pub struct ConfigError(String);

impl ConfigError {
    pub fn new(why: impl Into<String>) -> Self {
        ConfigError(why.into())
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the configuration from any variable source, so that tests do
    /// not have to change the process environment.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let set = |name: &str| var(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());

        let users_table = set("USERS_TABLE").ok_or_else(|| {
            ConfigError("USERS_TABLE is not set: name the DynamoDB table that holds the users".into())
        })?;

        let flag = |name: &str| match set(name).map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(_) => Err(ConfigError(format!("{name} must be \"true\" or \"false\""))),
        };
        let auth_disabled = flag("AUTH_DISABLED")?;
        let require_qiniu_date = flag("REQUIRE_QINIU_DATE")?;
        let keys = KeyRing::parse(&set("QINIU_KEYS").unwrap_or_default())
            .map_err(|why| ConfigError(format!("QINIU_KEYS must look like AK1:SK1,AK2:SK2: {why}")))?;
        let auth = if auth_disabled {
            AuthMode::Disabled
        } else if keys.is_empty() {
            AuthMode::NoKeysConfigured
        } else {
            AuthMode::Keys(keys)
        };

        let im_username_prefix = var("IM_USERNAME_PREFIX").unwrap_or_else(|| DEFAULT_IM_USERNAME_PREFIX.into());

        let path_prefix = set("PATH_PREFIX")
            .map(|p| format!("/{}", p.trim_matches('/')))
            .filter(|p| p != "/");

        Ok(Config {
            users_table,
            auth,
            im_username_prefix,
            path_prefix,
            require_qiniu_date,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn users_table_is_required() {
        assert!(config(&[]).unwrap_err().0.contains("USERS_TABLE"));
    }

    #[test]
    fn without_keys_or_opt_out_every_request_is_refused() {
        let c = config(&[("USERS_TABLE", "t")]).unwrap();
        assert!(matches!(c.auth, AuthMode::NoKeysConfigured));
        assert_eq!(c.im_username_prefix, "ql");
        assert_eq!(c.path_prefix, None);
    }

    #[test]
    fn auth_is_disabled_only_by_an_explicit_true() {
        let c = config(&[("USERS_TABLE", "t"), ("AUTH_DISABLED", "TRUE"), ("QINIU_KEYS", "a:b")]).unwrap();
        assert!(matches!(c.auth, AuthMode::Disabled));
        let c = config(&[("USERS_TABLE", "t"), ("AUTH_DISABLED", "false"), ("QINIU_KEYS", "a:b")]).unwrap();
        assert!(matches!(c.auth, AuthMode::Keys(_)));
        assert!(config(&[("USERS_TABLE", "t"), ("AUTH_DISABLED", "yes")]).is_err());
    }

    #[test]
    fn requiring_x_qiniu_date_is_off_unless_asked_for() {
        assert!(!config(&[("USERS_TABLE", "t")]).unwrap().require_qiniu_date);
        assert!(
            config(&[("USERS_TABLE", "t"), ("REQUIRE_QINIU_DATE", "true")])
                .unwrap()
                .require_qiniu_date
        );
        assert!(config(&[("USERS_TABLE", "t"), ("REQUIRE_QINIU_DATE", "1")]).is_err());
    }

    #[test]
    fn malformed_keys_stop_start_up_without_echoing_secrets() {
        let err = config(&[("USERS_TABLE", "t"), ("QINIU_KEYS", "ak:sk-secret,oops")]).unwrap_err();
        assert!(err.0.contains("QINIU_KEYS") && !err.0.contains("sk-secret"));
    }

    #[test]
    fn path_prefix_is_normalised() {
        let c = config(&[
            ("USERS_TABLE", "t"),
            ("PATH_PREFIX", "users/"),
            ("IM_USERNAME_PREFIX", "im_"),
        ])
        .unwrap();
        assert_eq!(c.path_prefix.as_deref(), Some("/users"));
        assert_eq!(c.im_username_prefix, "im_");
    }
}
