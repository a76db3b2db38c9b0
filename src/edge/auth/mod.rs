//! Qiniu AK/SK management tokens: `Authorization: Qiniu <AK>:<sign>`.
//!
//! Pure functions over the request as the client sent it (method, raw path,
//! raw query, headers, body), with no Lambda or AWS types, so that the rules
//! can be tested and reused on their own. The signing string, and the forms
//! of it the official SDKs produce, are in [`signing`]; the comparison is
//! constant-time (`Mac::verify_slice`).

mod qiniu_date;
pub mod signing;
#[cfg(test)]
mod tests;

pub use qiniu_date::{format_qiniu_date, parse_qiniu_date};

use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use lambda_http::http::HeaderMap;
use sha1::Sha1;
use signing::SigningForms;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

type HmacSha1 = Hmac<Sha1>;

/// Clients send the signature with or without `=` padding.
const SIGNATURE_ENCODING: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The length of an HMAC-SHA1: anything else is refused without hashing.
const SIGNATURE_LEN: usize = 20;

/// How far `X-Qiniu-Date` may be from the server's clock, either way.
pub const MAX_CLOCK_SKEW_SECS: u64 = 15 * 60;

/// A secret key. It has no `Display`, and its `Debug` never shows it, so it
/// cannot reach a log by accident.
#[derive(Clone)]
pub struct SecretKey(Vec<u8>);

impl SecretKey {
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        SecretKey(secret.into())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// The AK/SK pairs accepted at the same time (several, for key rotation).
#[derive(Clone, Debug, Default)]
pub struct KeyRing {
    pairs: Vec<(String, SecretKey)>,
}

impl KeyRing {
    /// Parses `AK1:SK1,AK2:SK2`. Whitespace around pairs is ignored; an
    /// empty AK or SK, a pair without `:`, or a repeated AK is an error (the
    /// error text never contains a secret).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut pairs: Vec<(String, SecretKey)> = Vec::new();
        for (index, pair) in spec.split(',').map(str::trim).enumerate() {
            if pair.is_empty() {
                continue;
            }
            let Some((ak, sk)) = pair.split_once(':') else {
                return Err(format!("pair {} has no ':' between AK and SK", index + 1));
            };
            let (ak, sk) = (ak.trim(), sk.trim());
            if ak.is_empty() || sk.is_empty() {
                return Err(format!("pair {} has an empty AK or SK", index + 1));
            }
            if pairs.iter().any(|(known, _)| known == ak) {
                return Err(format!("AK {ak} is listed twice"));
            }
            pairs.push((ak.to_owned(), SecretKey::new(sk)));
        }
        Ok(KeyRing { pairs })
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    pub fn access_keys(&self) -> impl Iterator<Item = &str> {
        self.pairs.iter().map(|(ak, _)| ak.as_str())
    }

    fn secret_for(&self, access_key: &str) -> Option<&SecretKey> {
        self.pairs.iter().find(|(ak, _)| ak == access_key).map(|(_, sk)| sk)
    }
}

/// The parts of a request that the signature covers, as the client sent
/// them. `paths` lists every form of the path the client may have signed
/// (as received, without the API Gateway stage, with a custom-domain
/// prefix), still percent-encoded: the request is authentic if any one of
/// them, or its percent-decoded form, verifies.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    pub paths: &'a [String],
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Missing or malformed header, unknown AK or wrong signature.
    BadToken,
    /// Authentic, but `X-Qiniu-Date` is malformed or outside the window.
    Expired,
}

/// Checks the `Authorization` header of `request` against `keys`, then the
/// freshness of a signed `X-Qiniu-Date` if there is one (or, with
/// `require_date`, that there is one). The date is only looked at once the
/// signature holds, so that `Expired` tells nothing to a caller who cannot
/// sign.
pub fn verify(
    keys: &KeyRing,
    request: &SignedRequest<'_>,
    require_date: bool,
    now: SystemTime,
) -> Result<(), Rejection> {
    let header = request.headers.get("authorization").ok_or(Rejection::BadToken)?;
    let (access_key, signature) = parse_authorization(header.as_bytes()).ok_or(Rejection::BadToken)?;
    let secret = keys.secret_for(access_key).ok_or(Rejection::BadToken)?;

    if !check_signature(secret, &SigningForms::of(request), &signature).authentic {
        return Err(Rejection::BadToken);
    }

    match request.headers.get("x-qiniu-date") {
        None if require_date => Err(Rejection::Expired),
        None => Ok(()),
        Some(date) => {
            let signed_at = parse_qiniu_date(date.as_bytes()).ok_or(Rejection::Expired)?;
            let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
            if now.abs_diff(signed_at) <= MAX_CLOCK_SKEW_SECS {
                Ok(())
            } else {
                Err(Rejection::Expired)
            }
        }
    }
}

/// Whether `headers` carry a well-formed `Qiniu <AK>:<sign>` token, signed
/// right or not: the only requests worth reading the keys for.
pub fn has_token(headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .is_some_and(|header| parse_authorization(header.as_bytes()).is_some())
}

/// The outcome of [`check_signature`], with its cost.
#[derive(Debug, PartialEq, Eq)]
struct SignatureCheck {
    authentic: bool,
    hmacs: usize,
}

/// Tries the signing forms in order, one HMAC each, and stops at the first
/// that matches. The key is set up once; each form clones that state.
fn check_signature(secret: &SecretKey, forms: &SigningForms<'_>, signature: &[u8]) -> SignatureCheck {
    let mut hmacs = 0;
    if signature.len() != SIGNATURE_LEN {
        return SignatureCheck {
            authentic: false,
            hmacs,
        };
    }
    let keyed = HmacSha1::new_from_slice(&secret.0).expect("HMAC takes keys of any length");
    for form in forms.forms() {
        let mut mac = keyed.clone();
        forms.write(form, &mut |bytes: &[u8]| mac.update(bytes));
        hmacs += 1;
        if mac.verify_slice(signature).is_ok() {
            return SignatureCheck { authentic: true, hmacs };
        }
    }
    SignatureCheck {
        authentic: false,
        hmacs,
    }
}

/// Splits `Qiniu <AK>:<sign>` and decodes the signature. `None` for any
/// other shape.
fn parse_authorization(header: &[u8]) -> Option<(&str, Vec<u8>)> {
    let token = std::str::from_utf8(header).ok()?.strip_prefix("Qiniu ")?;
    let (access_key, signature) = token.split_once(':')?;
    if access_key.is_empty() || signature.is_empty() {
        return None;
    }
    let signature = SIGNATURE_ENCODING.decode(signature).ok()?;
    Some((access_key, signature))
}
