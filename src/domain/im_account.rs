//! The IM login each user gets once, at registration: the credentials the
//! client SDK logs in to the IM with.

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

    #[test]
    fn debug_hides_the_password() {
        let account = ImAccount {
            im_userid: 1,
            im_username: "qlu".into(),
            im_password: "hunter2hunter2hunter2".into(),
        };
        assert!(!format!("{account:?}").contains("hunter2"));
    }
}
