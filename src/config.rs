//! Every environment variable the function reads, read once at start-up
//! into each layer's settings. DynamoDB's region, credentials and endpoint
//! are the standard AWS variables, read by `store::dynamodb_client`.

use crate::domain::im_account::is_valid_im_username;
use crate::edge::auth::KeyRing;
use crate::edge::{AuthMode, EdgeSettings};
use crate::im::{AdminToken, ImSettings, MaximSettings, ProviderSettings, DEFAULT_IM_USERNAME_PREFIX};

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
        let set = |name: &str| var(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let flag = |name: &str| match set(name).map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(_) => Err(ConfigError(format!("{name} must be \"true\" or \"false\""))),
        };

        let users_table = set("USERS_TABLE").ok_or_else(|| {
            ConfigError("USERS_TABLE is not set: name the DynamoDB table that holds the users".into())
        })?;

        let keys = KeyRing::parse(&set("QINIU_KEYS").unwrap_or_default())
            .map_err(|why| ConfigError(format!("QINIU_KEYS must look like AK1:SK1,AK2:SK2: {why}")))?;
        let auth = if flag("AUTH_DISABLED")? {
            AuthMode::Disabled
        } else if keys.is_empty() {
            AuthMode::NoKeysConfigured
        } else {
            AuthMode::Keys(keys)
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
            Some("maxim") => ProviderSettings::Maxim(maxim_settings(&set)?),
            Some(_) => return Err(ConfigError("IM_PROVIDER must be \"local\" or \"maxim\"".into())),
        };
        let im = ImSettings {
            username_prefix,
            provider,
        };

        Ok(Config { users_table, edge, im })
    }
}

/// The Lanying IM settings, all required: a clear start-up error naming
/// each missing one, never a silent fall-back to local accounts.
fn maxim_settings(set: &impl Fn(&str) -> Option<String>) -> Result<MaximSettings, ConfigError> {
    let names = ["MAXIM_API_URL", "MAXIM_APP_ID", "MAXIM_ADMIN_TOKEN"];
    let missing: Vec<&str> = names.into_iter().filter(|name| set(name).is_none()).collect();
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
    Ok(MaximSettings {
        api_url,
        app_id: value("MAXIM_APP_ID"),
        admin_token: AdminToken::new(value("MAXIM_ADMIN_TOKEN")),
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
        assert_eq!(err.0, "IM_PROVIDER=maxim needs MAXIM_API_URL, MAXIM_ADMIN_TOKEN");
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
