//! Qiniu AK/SK management tokens: `Authorization: Qiniu <AK>:<sign>`.
//!
//! Pure functions over the request as the client sent it (method, raw path,
//! raw query, headers, body) so that the rules can be tested and reused
//! without Lambda or AWS. The signing string is the one pinned in
//! `CONTRACT.md`; the comparison is constant-time (`Mac::verify_slice`).

use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use lambda_http::http::HeaderMap;
use sha1::Sha1;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};
use time::{Date, Month, Time, UtcDateTime};

type HmacSha1 = Hmac<Sha1>;

/// Clients send the signature with or without `=` padding.
const SIGNATURE_ENCODING: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// How far `X-Qiniu-Date` may be from the server's clock, either way.
pub const MAX_CLOCK_SKEW_SECS: u64 = 15 * 60;

const QINIU_HEADER_PREFIX: &str = "X-Qiniu-";
const UNSIGNED_BODY_TYPE: &[u8] = b"application/octet-stream";

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
/// prefix): the request is authentic if any one of them verifies.
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

    let authentic = request.paths.iter().any(|path| {
        let data = signing_data(request.method, path, request.query, request.headers, request.body);
        let mut mac = HmacSha1::new_from_slice(&secret.0).expect("HMAC takes keys of any length");
        mac.update(&data);
        mac.verify_slice(&signature).is_ok()
    });
    if !authentic {
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

/// The exact bytes that are signed:
/// `"{METHOD} {path}" + ("?" + query if query) + "\nHost: " + host +
/// ("\nContent-Type: " + ct if ct) + ("\n" + "X-Qiniu-A: v" for each, sorted)
/// + "\n\n" + (body if included)`.
pub fn signing_data(method: &str, path: &str, query: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Vec<u8> {
    let mut data = Vec::with_capacity(128 + body.len());
    data.extend_from_slice(method.as_bytes());
    data.push(b' ');
    data.extend_from_slice(path.as_bytes());
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        data.push(b'?');
        data.extend_from_slice(query.as_bytes());
    }
    data.extend_from_slice(b"\nHost: ");
    if let Some(host) = headers.get("host") {
        data.extend_from_slice(host.as_bytes());
    }

    let content_type = headers
        .get("content-type")
        .map(|v| v.as_bytes())
        .filter(|v| !v.is_empty());
    if let Some(content_type) = content_type {
        data.extend_from_slice(b"\nContent-Type: ");
        data.extend_from_slice(content_type);
    }

    let mut qiniu_headers: Vec<(String, &[u8])> = headers
        .keys()
        .map(|name| (canonical_header_key(name.as_str()), name))
        .filter(|(canonical, _)| {
            canonical.len() > QINIU_HEADER_PREFIX.len() && canonical.starts_with(QINIU_HEADER_PREFIX)
        })
        .filter_map(|(canonical, name)| headers.get(name).map(|value| (canonical, value.as_bytes())))
        .collect();
    qiniu_headers.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, value) in qiniu_headers {
        data.push(b'\n');
        data.extend_from_slice(name.as_bytes());
        data.extend_from_slice(b": ");
        data.extend_from_slice(value);
    }

    data.extend_from_slice(b"\n\n");
    if !body.is_empty() && content_type.is_some_and(|ct| ct != UNSIGNED_BODY_TYPE) {
        data.extend_from_slice(body);
    }
    data
}

/// Go's `textproto.CanonicalMIMEHeaderKey`: upper-case the first letter and
/// every letter after a `-`, lower-case the rest; a name with a byte that is
/// not a header token character is returned unchanged.
pub fn canonical_header_key(name: &str) -> String {
    if !name.bytes().all(is_token_byte) {
        return name.to_owned();
    }
    let mut upper = true;
    name.chars()
        .map(|c| {
            let out = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            upper = c == '-';
            out
        })
        .collect()
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Parses `YYYYMMDDTHHMMSSZ` (UTC) into seconds since the Unix epoch.
/// `None` for any other shape, an impossible date or time, or a time
/// before 1970.
pub fn parse_qiniu_date(value: &[u8]) -> Option<u64> {
    if value.len() != 16 || value[8] != b'T' || value[15] != b'Z' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u16> {
        let digits = &value[range];
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(digits.iter().fold(0, |n, d| n * 10 + u16::from(d - b'0')))
    };
    let two_digits = |range| number(range).and_then(|n| u8::try_from(n).ok());
    let month = Month::try_from(two_digits(4..6)?).ok()?;
    let date = Date::from_calendar_date(i32::from(number(0..4)?), month, two_digits(6..8)?).ok()?;
    let time = Time::from_hms(two_digits(9..11)?, two_digits(11..13)?, two_digits(13..15)?).ok()?;
    u64::try_from(UtcDateTime::new(date, time).unix_timestamp()).ok()
}

/// Formats a time as `YYYYMMDDTHHMMSSZ`, the inverse of [`parse_qiniu_date`]
/// (times before 1970 are formatted as 1970, after 9999 as the end of 9999).
pub fn format_qiniu_date(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let t = i64::try_from(secs)
        .ok()
        .and_then(|secs| UtcDateTime::from_unix_timestamp(secs).ok())
        .unwrap_or(UtcDateTime::MAX);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::HeaderValue;
    use std::time::Duration;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                lambda_http::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn signing_data_follows_the_contract_layout() {
        let h = headers(&[
            ("host", "api.example.com"),
            ("content-type", "application/json"),
            ("x-qiniu-date", "20261130T010203Z"),
            ("X-Qiniu-Bucket", "b"),
            ("x-other", "ignored"),
        ]);
        let data = signing_data("POST", "/server/user/register", Some("a=1"), &h, b"{}");
        assert_eq!(
            String::from_utf8(data).unwrap(),
            "POST /server/user/register?a=1\nHost: api.example.com\nContent-Type: application/json\n\
             X-Qiniu-Bucket: b\nX-Qiniu-Date: 20261130T010203Z\n\n{}"
        );
    }

    #[test]
    fn body_is_not_signed_without_content_type_or_as_octet_stream() {
        let plain = headers(&[("host", "h")]);
        assert_eq!(signing_data("GET", "/p", None, &plain, b"x"), b"GET /p\nHost: h\n\n");
        let octet = headers(&[("host", "h"), ("content-type", "application/octet-stream")]);
        assert_eq!(
            signing_data("GET", "/p", Some(""), &octet, b"x"),
            b"GET /p\nHost: h\nContent-Type: application/octet-stream\n\n"
        );
    }

    #[test]
    fn canonical_header_key_matches_go() {
        assert_eq!(canonical_header_key("x-qiniu-date"), "X-Qiniu-Date");
        assert_eq!(canonical_header_key("X-QINIU-META-ABC"), "X-Qiniu-Meta-Abc");
        assert_eq!(canonical_header_key("x-qiniu-a_b"), "X-Qiniu-A_b");
        assert_eq!(canonical_header_key("bad header"), "bad header");
    }

    #[test]
    fn key_ring_parses_pairs_and_rejects_malformed_ones() {
        let ring = KeyRing::parse(" ak1:sk1 , ak2:sk:2 ,").unwrap();
        assert_eq!(ring.access_keys().collect::<Vec<_>>(), ["ak1", "ak2"]);
        assert!(KeyRing::parse("ak1").is_err());
        assert!(KeyRing::parse("ak1:").is_err());
        assert!(KeyRing::parse("a:1,a:2").is_err());
        assert!(KeyRing::parse("").unwrap().is_empty());
        let err = KeyRing::parse("ak:secret,broken").unwrap_err();
        assert!(!err.contains("secret"));
    }

    #[test]
    fn secret_key_debug_is_redacted() {
        assert!(!format!("{:?}", KeyRing::parse("ak:topsecret").unwrap()).contains("topsecret"));
    }

    #[test]
    fn qiniu_date_round_trips_and_rejects_malformed_values() {
        let t = UNIX_EPOCH + Duration::from_secs(1_796_000_523);
        let s = format_qiniu_date(t);
        assert_eq!(parse_qiniu_date(s.as_bytes()), Some(1_796_000_523));
        assert_eq!(parse_qiniu_date(b"19700101T000000Z"), Some(0));
        assert_eq!(parse_qiniu_date(b"20240229T235959Z"), Some(1_709_251_199));
        for bad in [
            "20230229T000000Z",
            "20261130T240000Z",
            "2026-11-30T0000",
            "20261130 010203Z",
            "+0261130T010203Z",
            "",
        ] {
            assert_eq!(parse_qiniu_date(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn qiniu_dates_match_the_calendar() {
        for (text, secs) in [
            ("19700101T000000Z", 0),
            ("19721231T235959Z", 94_694_399),
            ("20000229T120000Z", 951_825_600),
            ("20000301T000000Z", 951_868_800),
            ("21000301T000000Z", 4_107_542_400),
            ("99991231T235959Z", 253_402_300_799),
        ] {
            assert_eq!(parse_qiniu_date(text.as_bytes()), Some(secs), "{text}");
            assert_eq!(format_qiniu_date(UNIX_EPOCH + Duration::from_secs(secs)), text);
        }
        for bad in [
            "19691231T235959Z",
            "00000101T000000Z",
            "21000229T000000Z",
            "20260001T000000Z",
            "20260132T000000Z",
        ] {
            assert_eq!(parse_qiniu_date(bad.as_bytes()), None, "{bad}");
        }
        // Every day (at a moving time of day) from 1970 to 2200 round-trips.
        for day in 0..84_000u64 {
            let secs = day * 86_400 + day * 7 % 86_400;
            let text = format_qiniu_date(UNIX_EPOCH + Duration::from_secs(secs));
            assert_eq!(parse_qiniu_date(text.as_bytes()), Some(secs), "{text}");
        }
        assert_eq!(
            format_qiniu_date(UNIX_EPOCH - Duration::from_secs(1)),
            "19700101T000000Z"
        );
        assert_eq!(
            format_qiniu_date(UNIX_EPOCH + Duration::from_secs(u64::MAX / 2)),
            "99991231T235959Z"
        );
    }
}
