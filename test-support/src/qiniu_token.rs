//! Qiniu management tokens as a client makes them, for the tests that send
//! signed requests (the API tests, the edge's unit tests).

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

/// The contract's signing string, written out independently of the crate's
/// `auth` module so that a mistake there cannot hide itself.
pub fn independent_sign(
    sk: &str,
    method: &str,
    path: &str,
    query: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> String {
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let mut data = format!("{method} {path}");
    if !query.is_empty() {
        data += &format!("?{query}");
    }
    data += &format!("\nHost: {}", find("host").unwrap_or_default());
    let content_type = find("content-type").filter(|ct| !ct.is_empty());
    if let Some(ct) = &content_type {
        data += &format!("\nContent-Type: {ct}");
    }
    let mut qiniu: Vec<(String, String)> = headers
        .iter()
        .filter(|(k, _)| k.to_ascii_lowercase().starts_with("x-qiniu-") && k.len() > 8)
        .map(|(k, v)| {
            let canonical = k
                .split('-')
                .map(|part| {
                    let lower = part.to_ascii_lowercase();
                    let mut chars = lower.chars();
                    chars
                        .next()
                        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                        .unwrap_or_default()
                })
                .collect::<Vec<_>>()
                .join("-");
            (canonical, v.clone())
        })
        .collect();
    qiniu.sort();
    for (k, v) in qiniu {
        data += &format!("\n{k}: {v}");
    }
    data += "\n\n";
    let mut bytes = data.into_bytes();
    if !body.is_empty() && content_type.is_some_and(|ct| ct != "application/octet-stream") {
        bytes.extend_from_slice(body);
    }
    let mut mac = Hmac::<Sha1>::new_from_slice(sk.as_bytes()).unwrap();
    mac.update(&bytes);
    base64::engine::general_purpose::URL_SAFE.encode(mac.finalize().into_bytes())
}
