//! Every environment variable the function reads, read once at start-up
//! into each layer's settings. DynamoDB's region, credentials and endpoint
//! are the standard AWS variables (`crate::aws`), read by
//! `store::dynamodb_client`; Secrets Manager's the same, read here when a
//! secret is named.

use crate::domain::im_account::is_valid_im_username;
use crate::edge::auth::KeyRing;
use crate::edge::{AuthMode, EdgeSettings};
use crate::im::{AdminToken, ImSettings, MaximSettings, ProviderSettings, DEFAULT_IM_USERNAME_PREFIX};
use crate::secrets::{self, ReadPolicy, Refreshing, SecretsManager};
use std::cell::OnceCell;

#[derive(Clone, Debug)]
pub struct Config {
    /// `USERS_TABLE`: the DynamoDB table of users.
    pub users_table: String,
    pub edge: EdgeSettings,
    pub im: ImSettings,
}

/// A variable is missing or malformed; the text names it (never its value,
/// which may be a secret).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the configuration from any variable source, so that tests do
    /// not have to change the process environment.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::from_lookup_with(var, ReadPolicy::DEFAULT)
    }

    /// [`Config::from_lookup`] with secrets read on another timing (tests
    /// of rotation, which cannot wait minutes).
    pub fn from_lookup_with(
        var: impl Fn(&str) -> Option<String>,
        secrets_policy: ReadPolicy,
    ) -> Result<Self, ConfigError> {
        let set = |name: &str| var(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let flag = |name: &str| match set(name).map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(_) => Err(ConfigError(format!("{name} must be \"true\" or \"false\""))),
        };

        let users_table = set("USERS_TABLE").ok_or_else(|| {
            ConfigError("USERS_TABLE is not set: name the DynamoDB table that holds the users".into())
        })?;

        // Built once, and only if a secret is named.
        let secrets_manager = OnceCell::new();
        let secrets_manager = || -> Result<SecretsManager, ConfigError> {
            if secrets_manager.get().is_none() {
                let client = SecretsManager::from_lookup(&var)
                    .map_err(|e| ConfigError(format!("reading secrets from Secrets Manager: {e}")))?;
                let _ = secrets_manager.set(client);
            }
            Ok(secrets_manager.get().cloned().expect("set above"))
        };

        let auth = match secret_source(&set, "QINIU_KEYS")? {
            _ if flag("AUTH_DISABLED")? => AuthMode::Disabled,
            None => AuthMode::NoKeysConfigured,
            Some(SecretSource::Value(text)) => {
                let keys = KeyRing::parse(&text)
                    .map_err(|why| ConfigError(format!("QINIU_KEYS must look like AK1:SK1,AK2:SK2: {why}")))?;
                if keys.is_empty() {
                    AuthMode::NoKeysConfigured
                } else {
                    AuthMode::Keys(Refreshing::fixed("the Qiniu keys from QINIU_KEYS", keys))
                }
            }
            Some(SecretSource::SecretId(id)) => AuthMode::Keys(secrets::from_secrets_manager(
                &secrets_manager()?,
                secrets_policy,
                "the Qiniu keys",
                &id,
                parse_key_ring,
            )),
        };
        let edge = EdgeSettings {
            auth,
            path_prefix: set("PATH_PREFIX")
                .map(|p| format!("/{}", p.trim_matches('/')))
                .filter(|p| p != "/"),
            require_qiniu_date: flag("REQUIRE_QINIU_DATE")?,
            // Unset or empty: no metrics (local runs); the deployments set it.
            metrics_namespace: set("METRICS_NAMESPACE"),
        };

        let username_prefix = var("IM_USERNAME_PREFIX").unwrap_or_else(|| DEFAULT_IM_USERNAME_PREFIX.into());
        // Every username starts with the prefix, so it must be one the IM
        // accepts at the start of a name.
        if !is_valid_im_username(&format!("{username_prefix}x")) {
            return Err(ConfigError(
                "IM_USERNAME_PREFIX may hold only letters, digits, _ and CJK ideographs, \
                 and must not start with mta or maxim (the IM's rule for usernames)"
                    .into(),
            ));
        }
        let provider = match set("IM_PROVIDER").map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("local") => ProviderSettings::Local,
            Some("maxim") => {
                ProviderSettings::Maxim(maxim_settings(&set, || Ok((secrets_manager()?, secrets_policy)))?)
            }
            Some(_) => return Err(ConfigError("IM_PROVIDER must be \"local\" or \"maxim\"".into())),
        };
        let im = ImSettings {
            username_prefix,
            provider,
        };

        Ok(Config { users_table, edge, im })
    }
}

/// Where a secret comes from. No `Debug`: it may hold the value.
enum SecretSource {
    /// Its value, given in the environment (local runs): fixed.
    Value(String),
    /// The id (name or ARN) of a Secrets Manager secret.
    SecretId(String),
}

/// A secret given as `NAME` (its value) or `NAME_SECRET_ID` (a Secrets
/// Manager secret's name or ARN), not both.
fn secret_source(set: &impl Fn(&str) -> Option<String>, name: &str) -> Result<Option<SecretSource>, ConfigError> {
    match (set(name), set(&format!("{name}_SECRET_ID"))) {
        (Some(_), Some(_)) => Err(ConfigError(format!("set {name} or {name}_SECRET_ID, not both"))),
        (Some(value), None) => Ok(Some(SecretSource::Value(value))),
        (None, Some(id)) => Ok(Some(SecretSource::SecretId(id))),
        (None, None) => Ok(None),
    }
}

/// A secret's value in the format of `QINIU_KEYS`, so that a secret made
/// for the earlier deployments (which copied it into `QINIU_KEYS`) works.
/// An empty ring is a value too: every request is then refused.
fn parse_key_ring(text: &str) -> Result<KeyRing, String> {
    let keys = KeyRing::parse(text).map_err(|why| format!("does not look like AK1:SK1,AK2:SK2: {why}"))?;
    if keys.is_empty() {
        tracing::error!("the Qiniu keys' secret holds no key pair: every signed request is refused with 401");
    } else {
        tracing::info!(access_keys = ?keys.access_keys().collect::<Vec<_>>(), "read the Qiniu keys");
    }
    Ok(keys)
}

fn parse_admin_token(text: &str) -> Result<AdminToken, String> {
    match text.trim() {
        "" => Err("is empty".into()),
        token => Ok(AdminToken::new(token.to_owned())),
    }
}

/// The Lanying IM settings, all required: a clear start-up error naming
/// each missing one, never a silent fall-back to local accounts.
fn maxim_settings(
    set: &impl Fn(&str) -> Option<String>,
    secrets_manager: impl Fn() -> Result<(SecretsManager, ReadPolicy), ConfigError>,
) -> Result<MaximSettings, ConfigError> {
    let token = secret_source(set, "MAXIM_ADMIN_TOKEN")?;
    let mut missing: Vec<&str> = ["MAXIM_API_URL", "MAXIM_APP_ID"]
        .into_iter()
        .filter(|name| set(name).is_none())
        .collect();
    if token.is_none() {
        missing.push("MAXIM_ADMIN_TOKEN_SECRET_ID (or MAXIM_ADMIN_TOKEN)");
    }
    if !missing.is_empty() {
        return Err(ConfigError(format!("IM_PROVIDER=maxim needs {}", missing.join(", "))));
    }
    let value = |name: &str| set(name).unwrap_or_default();
    let api_url = value("MAXIM_API_URL").trim_end_matches('/').to_owned();
    let is_url = api_url
        .parse::<lambda_http::http::Uri>()
        .is_ok_and(|uri| matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some());
    if !is_url {
        return Err(ConfigError(
            "MAXIM_API_URL must be an http(s) URL, like https://s-1-3-s-api.maximtop.cn".into(),
        ));
    }
    let admin_token = match token {
        Some(SecretSource::SecretId(id)) => {
            let (client, policy) = secrets_manager()?;
            secrets::from_secrets_manager(&client, policy, "the Lanying IM admin token", &id, parse_admin_token)
        }
        _ => Refreshing::fixed(
            "the Lanying IM admin token from MAXIM_ADMIN_TOKEN",
            AdminToken::new(value("MAXIM_ADMIN_TOKEN")),
        ),
    };
    Ok(MaximSettings {
        api_url,
        app_id: value("MAXIM_APP_ID"),
        admin_token,
    })
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
        assert!(matches!(c.edge.auth, AuthMode::NoKeysConfigured));
        assert_eq!(c.im.username_prefix, "ql");
        assert_eq!(c.edge.path_prefix, None);
    }

    #[test]
    fn auth_is_disabled_only_by_an_explicit_true() {
        let c = config(&[("USERS_TABLE", "t"), ("AUTH_DISABLED", "TRUE"), ("QINIU_KEYS", "a:b")]).unwrap();
        assert!(matches!(c.edge.auth, AuthMode::Disabled));
        let c = config(&[("USERS_TABLE", "t"), ("AUTH_DISABLED", "false"), ("QINIU_KEYS", "a:b")]).unwrap();
        assert!(matches!(c.edge.auth, AuthMode::Keys(_)));
        assert!(config(&[("USERS_TABLE", "t"), ("AUTH_DISABLED", "yes")]).is_err());
    }

    #[test]
    fn requiring_x_qiniu_date_is_off_unless_asked_for() {
        assert!(!config(&[("USERS_TABLE", "t")]).unwrap().edge.require_qiniu_date);
        let on = config(&[("USERS_TABLE", "t"), ("REQUIRE_QINIU_DATE", "true")]).unwrap();
        assert!(on.edge.require_qiniu_date);
        assert!(config(&[("USERS_TABLE", "t"), ("REQUIRE_QINIU_DATE", "1")]).is_err());
    }

    #[test]
    fn malformed_keys_stop_start_up_without_echoing_secrets() {
        let err = config(&[("USERS_TABLE", "t"), ("QINIU_KEYS", "ak:sk-secret,oops")]).unwrap_err();
        assert!(err.0.contains("QINIU_KEYS") && !err.0.contains("sk-secret"));
    }

    const AWS: [(&str, &str); 4] = [
        ("USERS_TABLE", "t"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "a"),
        ("AWS_SECRET_ACCESS_KEY", "s"),
    ];

    fn with_aws(more: &[(&'static str, &'static str)]) -> Result<Config, ConfigError> {
        config(&[&AWS[..], more].concat())
    }

    #[test]
    fn keys_named_by_a_secret_are_read_later_not_at_configuration() {
        let c = with_aws(&[("QINIU_KEYS_SECRET_ID", "qnlive/keys")]).unwrap();
        let AuthMode::Keys(keys) = c.edge.auth else {
            panic!("keys from a secret")
        };
        assert!(keys.current().is_none());
        assert_eq!(
            format!("{keys:?}"),
            "Refreshing(the Qiniu keys from secret qnlive/keys)"
        );
    }

    #[test]
    fn a_secret_is_given_by_value_or_by_secret_id_not_both() {
        let err = with_aws(&[("QINIU_KEYS", "a:b"), ("QINIU_KEYS_SECRET_ID", "k")]).unwrap_err();
        assert_eq!(err.0, "set QINIU_KEYS or QINIU_KEYS_SECRET_ID, not both");
        let err = with_aws(&[
            ("IM_PROVIDER", "maxim"),
            ("MAXIM_API_URL", "https://im.example.com"),
            ("MAXIM_APP_ID", "app"),
            ("MAXIM_ADMIN_TOKEN", "tok-secret"),
            ("MAXIM_ADMIN_TOKEN_SECRET_ID", "qnlive/im"),
        ])
        .unwrap_err();
        assert_eq!(err.0, "set MAXIM_ADMIN_TOKEN or MAXIM_ADMIN_TOKEN_SECRET_ID, not both");
        assert!(!err.0.contains("tok-secret"));
    }

    #[test]
    fn reading_a_secret_needs_the_aws_variables_and_says_which() {
        let err = config(&[("USERS_TABLE", "t"), ("QINIU_KEYS_SECRET_ID", "qnlive/keys")]).unwrap_err();
        assert!(
            err.0.contains("Secrets Manager") && err.0.contains("AWS_REGION"),
            "{}",
            err.0
        );
        // Not needed when authentication is off, or the keys are given.
        let off = config(&[
            ("USERS_TABLE", "t"),
            ("QINIU_KEYS_SECRET_ID", "k"),
            ("AUTH_DISABLED", "true"),
        ]);
        assert!(matches!(off.unwrap().edge.auth, AuthMode::Disabled));
    }

    #[test]
    fn the_im_admin_token_may_come_from_a_secret() {
        let c = with_aws(&[
            ("IM_PROVIDER", "maxim"),
            ("MAXIM_API_URL", "https://im.example.com"),
            ("MAXIM_APP_ID", "app"),
            ("MAXIM_ADMIN_TOKEN_SECRET_ID", "qnlive/im"),
        ])
        .unwrap();
        let ProviderSettings::Maxim(maxim) = c.im.provider else {
            panic!("maxim settings")
        };
        assert!(maxim.admin_token.current().is_none());
    }

    #[test]
    fn a_secrets_value_is_parsed_as_qiniu_keys_or_a_token_and_refusals_hold_no_value() {
        let ring = parse_key_ring(" ak1:sk1 , ak2:sk2 ").unwrap();
        assert_eq!(ring.access_keys().collect::<Vec<_>>(), ["ak1", "ak2"]);
        assert!(
            parse_key_ring("").unwrap().is_empty(),
            "an emptied secret refuses everyone"
        );
        let refused = parse_key_ring("ak1:sk-secret,broken").unwrap_err();
        assert!(refused.starts_with("does not look like AK1:SK1") && !refused.contains("sk-secret"));
        assert_eq!(parse_admin_token(" tok \n").unwrap(), AdminToken::new("tok".into()));
        assert_eq!(parse_admin_token(" ").unwrap_err(), "is empty");
    }

    #[test]
    fn the_im_provider_is_local_unless_maxim_is_asked_for() {
        let c = config(&[("USERS_TABLE", "t")]).unwrap();
        assert!(matches!(c.im.provider, ProviderSettings::Local));
        let c = config(&[("USERS_TABLE", "t"), ("IM_PROVIDER", "LOCAL")]).unwrap();
        assert!(matches!(c.im.provider, ProviderSettings::Local));
        let err = config(&[("USERS_TABLE", "t"), ("IM_PROVIDER", "other")]).unwrap_err();
        assert!(err.0.contains("IM_PROVIDER"));
    }

    #[test]
    fn maxim_needs_its_three_settings_and_names_the_missing_ones() {
        let err = config(&[("USERS_TABLE", "t"), ("IM_PROVIDER", "maxim"), ("MAXIM_APP_ID", "a")]).unwrap_err();
        assert_eq!(
            err.0,
            "IM_PROVIDER=maxim needs MAXIM_API_URL, MAXIM_ADMIN_TOKEN_SECRET_ID (or MAXIM_ADMIN_TOKEN)"
        );
        let full = [
            ("USERS_TABLE", "t"),
            ("IM_PROVIDER", "maxim"),
            ("MAXIM_API_URL", "https://im.example.com/"),
            ("MAXIM_APP_ID", "app"),
            ("MAXIM_ADMIN_TOKEN", "tok-secret"),
        ];
        let c = config(&full).unwrap();
        let ProviderSettings::Maxim(maxim) = c.im.provider else {
            panic!("maxim settings")
        };
        assert_eq!(
            (maxim.api_url.as_str(), maxim.app_id.as_str()),
            ("https://im.example.com", "app")
        );
        assert!(!format!("{maxim:?}").contains("tok-secret"));
        let mut bad_url = full;
        bad_url[2] = ("MAXIM_API_URL", "im.example.com");
        assert!(config(&bad_url).unwrap_err().0.contains("MAXIM_API_URL"));
    }

    #[test]
    fn the_im_username_prefix_must_be_one_the_im_accepts() {
        for bad in ["q-l", "mta", "maxim_", "q l"] {
            assert!(
                config(&[("USERS_TABLE", "t"), ("IM_USERNAME_PREFIX", bad)]).is_err(),
                "{bad}"
            );
        }
        for good in ["", "ql", "用户_", "1"] {
            assert!(
                config(&[("USERS_TABLE", "t"), ("IM_USERNAME_PREFIX", good)]).is_ok(),
                "{good}"
            );
        }
    }

    #[test]
    fn metrics_are_written_only_with_a_namespace() {
        let on = config(&[("USERS_TABLE", "t"), ("METRICS_NAMESPACE", " QNLive/UserApi ")]).unwrap();
        assert_eq!(on.edge.metrics_namespace.as_deref(), Some("QNLive/UserApi"));
        for off in [
            config(&[("USERS_TABLE", "t")]),
            config(&[("USERS_TABLE", "t"), ("METRICS_NAMESPACE", "")]),
        ] {
            assert_eq!(off.unwrap().edge.metrics_namespace, None);
        }
    }

    #[test]
    fn path_prefix_is_normalised() {
        let c = config(&[
            ("USERS_TABLE", "t"),
            ("PATH_PREFIX", "users/"),
            ("IM_USERNAME_PREFIX", "im_"),
        ])
        .unwrap();
        assert_eq!(c.edge.path_prefix.as_deref(), Some("/users"));
        assert_eq!(c.im.username_prefix, "im_");
    }
}
