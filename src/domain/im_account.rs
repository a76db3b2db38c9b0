//! The IM login each user gets once, at registration: the credentials the
//! client SDK logs in to the IM with, and the IM username a user id maps to.

use super::UserId;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use std::fmt;

/// 18 random bytes give 24 URL-safe characters (144 bits).
const PASSWORD_BYTES: usize = 18;

#[derive(Clone, PartialEq, Eq)]
pub struct ImAccount {
    pub im_userid: i64,
    pub im_username: String,
    pub im_password: String,
}

/// Never shows the password, so that an account cannot reach a log whole.
impl fmt::Debug for ImAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImAccount")
            .field("im_userid", &self.im_userid)
            .field("im_username", &self.im_username)
            .field("im_password", &"<redacted>")
            .finish()
    }
}

impl ImAccount {
    /// An account whose credentials are chosen and stored but not yet known
    /// to the IM: it has no IM user id yet.
    pub fn pending(im_username: String, im_password: String) -> Self {
        ImAccount {
            im_userid: 0,
            im_username,
            im_password,
        }
    }

    /// The IM has not (yet) confirmed this account: `im_userid` 0, as the
    /// original service stored users whose IM registration failed.
    pub fn is_pending(&self) -> bool {
        self.im_userid == 0
    }
}

/// Starts every IM username that is not `prefix + user id` as it is.
const ESCAPE_MARKER: &str = "__";

/// The IM username of a user: `prefix + user_id` when that is a username
/// the IM accepts (so that accounts the original service made are found
/// again), else `prefix + "__" + ` the id escaped into the IM's alphabet.
///
/// The escape keeps letters, digits and the CJK ideographs the IM allows,
/// writes `_` as `__` and any other character as `_<hex code point>_`:
/// `a-b` → `ql__a_2d_b`, `me@example.com` → `ql__me_40_example_2e_com`,
/// `用户😀` → `ql__用户_1f600_`. Ids that start with `__` are escaped too, so
/// that no escaped name can equal an unescaped one, and the escape can be
/// undone, so no two user ids ever share a username.
pub fn im_username(prefix: &str, user_id: &UserId) -> String {
    let id = user_id.as_str();
    let plain = format!("{prefix}{id}");
    if !id.starts_with(ESCAPE_MARKER) && is_valid_im_username(&plain) {
        return plain;
    }
    let mut escaped = format!("{prefix}{ESCAPE_MARKER}");
    for c in id.chars() {
        match c {
            '_' => escaped.push_str("__"),
            c if is_im_username_char(c) => escaped.push(c),
            c => escaped.push_str(&format!("_{:x}_", u32::from(c))),
        }
    }
    escaped
}

/// The IM's rule for usernames (its Swagger pattern
/// `^(?!mta|maxim)[a-zA-Z0-9_一-龥]*[a-zA-Z_一-龥]+[a-zA-Z0-9_一-龥]*`, matched
/// whole): ASCII letters, digits, `_` and CJK U+4E00..=U+9FA5, not only
/// digits, not starting with `mta` or `maxim`. Case is taken as
/// significant, as the original service took it; no length limit is
/// documented.
pub fn is_valid_im_username(name: &str) -> bool {
    !name.starts_with("mta")
        && !name.starts_with("maxim")
        && name.chars().all(is_im_username_char)
        && name.chars().any(|c| !c.is_ascii_digit())
}

fn is_im_username_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || ('\u{4E00}'..='\u{9FA5}').contains(&c)
}

/// A new IM password from the operating system's CSPRNG. It fails only if
/// the operating system cannot give random bytes.
pub fn random_password() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; PASSWORD_BYTES];
    getrandom::getrandom(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_long_random_and_url_safe() {
        let a = random_password().unwrap();
        let b = random_password().unwrap();
        assert_eq!(a.len(), 24);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    }

    fn id(s: &str) -> UserId {
        UserId::parse(s.into(), "user_id").unwrap()
    }

    #[test]
    fn ids_the_im_accepts_keep_the_originals_username() {
        for plain in ["user1", "User_1", "用户", "a_b", "123"] {
            assert_eq!(im_username("ql", &id(plain)), format!("ql{plain}"));
        }
    }

    #[test]
    fn other_ids_are_escaped_into_the_ims_alphabet() {
        let cases = [
            ("a-b", "ql__a_2d_b"),
            ("x.y", "ql__x_2e_y"),
            ("me@example.com", "ql__me_40_example_2e_com"),
            ("用户😀", "ql__用户_1f600_"),
            ("a b_c", "ql__a_20_b__c"),
            ("__x", "ql______x"),
        ];
        for (user_id, expected) in cases {
            let name = im_username("ql", &id(user_id));
            assert_eq!(name, expected);
            assert!(is_valid_im_username(&name), "{name}");
        }
    }

    #[test]
    fn without_a_prefix_names_the_im_refuses_are_escaped_too() {
        assert_eq!(im_username("", &id("123")), "__123");
        assert_eq!(im_username("", &id("maxim1")), "__maxim1");
        assert_eq!(im_username("", &id("mtax")), "__mtax");
        assert_eq!(im_username("", &id("bob")), "bob");
    }

    #[test]
    fn the_ims_username_rule() {
        for valid in ["a", "ql1", "_", "用户", "MTA1", "Maxim"] {
            assert!(is_valid_im_username(valid), "{valid}");
        }
        for invalid in ["", "123", "mta1", "maxim_x", "a-b", "a b", "é", "\u{9FA6}"] {
            assert!(!is_valid_im_username(invalid), "{invalid:?}");
        }
    }

    #[test]
    fn pending_accounts_have_no_im_user_id() {
        let pending = ImAccount::pending("qlu".into(), "p".into());
        assert!(pending.is_pending());
        assert!(!ImAccount {
            im_userid: 7,
            ..pending
        }
        .is_pending());
    }

    #[test]
    fn debug_hides_the_password() {
        let account = ImAccount {
            im_userid: 1,
            im_username: "qlu".into(),
            im_password: "hunter2hunter2hunter2".into(),
        };
        let debug = format!("{account:?}");
        assert!(!debug.contains("hunter2"));
        // Everything else is there, to debug with.
        assert_eq!(
            debug,
            r#"ImAccount { im_userid: 1, im_username: "qlu", im_password: "<redacted>" }"#
        );
    }
}
