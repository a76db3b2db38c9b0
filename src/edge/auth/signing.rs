//! The exact string a Qiniu signature covers, and every form of it the
//! official SDKs produce.
//!
//! The SDKs do not all build that string from the same view of the request
//! (docs/CLIENTS.md has the details and sources):
//!
//! | SDK                         | path             | Host                 | no Content-Type given      |
//! |-----------------------------|------------------|----------------------|----------------------------|
//! | Python `QiniuMacAuth`       | as sent          | as sent              | no line, body not signed   |
//! | Node `generateAccessTokenV2`| as sent          | port doubled         | form line, body signed     |
//! | Go `collectDataV2`          | percent-decoded  | as sent              | form line (also sent), body signed |
//!
//! So a signature is accepted over any combination of: each path form
//! (as sent, and its percent-decoded form when that is unambiguous, see
//! [`go_decoded_path`]), the Host as sent or with its port doubled, and,
//! only when no `Content-Type` was sent, with or without a signed
//! `Content-Type: application/x-www-form-urlencoded` line. Method, query,
//! the `X-Qiniu-*` headers and the key are the same in every form, and so
//! is the body wherever a form signs it. Each distinct form costs one HMAC
//! and is tried once, the as-sent form first.

use lambda_http::http::HeaderMap;
use percent_encoding::percent_decode_str;
use std::borrow::Cow;

const QINIU_HEADER_PREFIX: &str = "X-Qiniu-";
const UNSIGNED_BODY_TYPE: &[u8] = b"application/octet-stream";
/// What the Node and Go SDKs sign when the caller gives no content type.
const DEFAULT_CONTENT_TYPE: &[u8] = b"application/x-www-form-urlencoded";

/// The exact bytes that are signed over the path, Host and Content-Type as
/// sent (the Python SDK's view):
/// `"{METHOD} {path}" + ("?" + query if query) + "\nHost: " + host +
/// ("\nContent-Type: " + ct if ct) + ("\n" + "X-Qiniu-A: v" for each, sorted)
/// + "\n\n" + (body if included)`.
#[cfg(test)]
pub(super) fn signing_data(method: &str, path: &str, query: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Vec<u8> {
    let forms = SigningForms::new(method, vec![Cow::Borrowed(path.as_bytes())], query, headers, body);
    let mut data = Vec::with_capacity(128 + body.len());
    forms.write(Form::AS_SENT, &mut |bytes: &[u8]| data.extend_from_slice(bytes));
    data
}

/// Every signing string accepted for `request`, in the order [`verify`]
/// tries them, each once. For tests and diagnostics: `verify` itself feeds
/// the forms straight into the HMAC without building them.
#[cfg(test)]
pub(super) fn signing_candidates(request: &super::SignedRequest<'_>) -> Vec<Vec<u8>> {
    let forms = SigningForms::of(request);
    forms
        .forms()
        .map(|form| {
            let mut data = Vec::new();
            forms.write(form, &mut |bytes: &[u8]| data.extend_from_slice(bytes));
            data
        })
        .collect()
}

/// One way of signing a request: indices into [`SigningForms`]'s lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Form {
    content_type: usize,
    host: usize,
    path: usize,
}

impl Form {
    /// The one the contract pins: every part as the client sent it.
    #[cfg(test)]
    const AS_SENT: Form = Form {
        content_type: 0,
        host: 0,
        path: 0,
    };
}

/// How a form writes the `Content-Type` line, and whether it signs the body.
#[derive(Debug, Clone, Copy)]
struct ContentTypeForm<'a> {
    line: Option<&'a [u8]>,
    signs_body: bool,
}

/// The parts of the signing string, with every accepted variant of the
/// ones the SDKs disagree on. The variants of each part are distinct, and
/// no part can spill into the next (a path has no `?` and no line break; a
/// header value no line break), so distinct forms are distinct strings:
/// nothing is hashed twice.
pub(super) struct SigningForms<'a> {
    method: &'a [u8],
    query: Option<&'a [u8]>,
    /// The paths as sent first, then their percent-decoded forms; no two equal.
    paths: Vec<Cow<'a, [u8]>>,
    /// The Host as sent, then with its port doubled (Node) if it has one.
    hosts: Vec<Cow<'a, [u8]>>,
    /// The `Content-Type` as sent; or, when none was, none and the
    /// defaulted form type (Node, Go).
    content_types: Vec<ContentTypeForm<'a>>,
    /// `"\nX-Qiniu-A: v"` for each, sorted: the same in every form.
    qiniu_headers: Vec<u8>,
    body: &'a [u8],
}

impl<'a> SigningForms<'a> {
    pub(super) fn of(request: &super::SignedRequest<'a>) -> Self {
        let mut paths: Vec<Cow<'a, [u8]>> = Vec::with_capacity(request.paths.len() * 2);
        let as_sent = request.paths.iter().map(|path| Cow::Borrowed(path.as_bytes()));
        let decoded = request
            .paths
            .iter()
            .filter_map(|path| go_decoded_path(path).map(Cow::Owned));
        for path in as_sent.chain(decoded) {
            if !paths.contains(&path) {
                paths.push(path);
            }
        }
        Self::new(request.method, paths, request.query, request.headers, request.body)
    }

    pub(super) fn new(
        method: &'a str,
        paths: Vec<Cow<'a, [u8]>>,
        query: Option<&'a str>,
        headers: &'a HeaderMap,
        body: &'a [u8],
    ) -> Self {
        let host = headers.get("host").map_or(&b""[..], |host| host.as_bytes());
        let mut hosts = vec![Cow::Borrowed(host)];
        hosts.extend(node_doubled_port_host(host).map(Cow::Owned));

        let sent_content_type = headers
            .get("content-type")
            .map(|v| v.as_bytes())
            .filter(|v| !v.is_empty());
        let content_types = match sent_content_type {
            Some(content_type) => vec![ContentTypeForm {
                line: Some(content_type),
                signs_body: !body.is_empty() && content_type != UNSIGNED_BODY_TYPE,
            }],
            // The body is signed in the defaulted form: Node signs any
            // non-empty body whose type is not octet-stream, Go any body
            // of a form or JSON type, and the defaulted type is form. So
            // the new form never leaves a body unsigned.
            None => vec![
                ContentTypeForm {
                    line: None,
                    signs_body: false,
                },
                ContentTypeForm {
                    line: Some(DEFAULT_CONTENT_TYPE),
                    signs_body: !body.is_empty(),
                },
            ],
        };

        SigningForms {
            method: method.as_bytes(),
            query: query.filter(|q| !q.is_empty()).map(str::as_bytes),
            paths,
            hosts,
            content_types,
            qiniu_headers: qiniu_header_lines(headers),
            body,
        }
    }

    /// Every form, the as-sent one first.
    pub(super) fn forms(&self) -> impl Iterator<Item = Form> + '_ {
        (0..self.content_types.len()).flat_map(move |content_type| {
            (0..self.hosts.len()).flat_map(move |host| {
                (0..self.paths.len()).map(move |path| Form {
                    content_type,
                    host,
                    path,
                })
            })
        })
    }

    /// Feeds the signing string of `form` to `out`, piece by piece.
    pub(super) fn write(&self, form: Form, out: &mut impl FnMut(&[u8])) {
        out(self.method);
        out(b" ");
        out(&self.paths[form.path]);
        if let Some(query) = self.query {
            out(b"?");
            out(query);
        }
        out(b"\nHost: ");
        out(&self.hosts[form.host]);
        let content_type = self.content_types[form.content_type];
        if let Some(line) = content_type.line {
            out(b"\nContent-Type: ");
            out(line);
        }
        out(&self.qiniu_headers);
        out(b"\n\n");
        if content_type.signs_body {
            out(self.body);
        }
    }
}

/// `"\nX-Qiniu-A: v"` for every `X-Qiniu-*` header (first value), names
/// canonicalised, sorted by name.
pub(super) fn qiniu_header_lines(headers: &HeaderMap) -> Vec<u8> {
    let mut qiniu_headers: Vec<(String, &[u8])> = headers
        .keys()
        .map(|name| (canonical_header_key(name.as_str()), name))
        .filter(|(canonical, _)| {
            canonical.len() > QINIU_HEADER_PREFIX.len() && canonical.starts_with(QINIU_HEADER_PREFIX)
        })
        .filter_map(|(canonical, name)| headers.get(name).map(|value| (canonical, value.as_bytes())))
        .collect();
    qiniu_headers.sort_by(|a, b| a.0.cmp(&b.0));
    let mut lines = Vec::new();
    for (name, value) in qiniu_headers {
        lines.push(b'\n');
        lines.extend_from_slice(name.as_bytes());
        lines.extend_from_slice(b": ");
        lines.extend_from_slice(value);
    }
    lines
}

/// The Host as the Node SDK signs it when the URL has a non-default port:
/// `generateAccessTokenV2` writes `u.host` (which has the port) and then
/// `':' + u.port` again, so `127.0.0.1:9000` is signed as
/// `127.0.0.1:9000:9000`. `None` when the Host has no port (a default
/// port: Node's `u.port` is empty then and nothing is doubled).
///
/// Not a new way to forge: the Host only ever names this service (nothing
/// routes on it), the doubled form is a pure function of the Host that was
/// sent, and no client sends a Host with two ports.
pub(super) fn node_doubled_port_host(host: &[u8]) -> Option<Vec<u8>> {
    let colon = host.iter().rposition(|&b| b == b':')?;
    let (name, port) = (&host[..colon], &host[colon + 1..]);
    let bare_ipv6 = name.contains(&b':') && !name.ends_with(b"]");
    if name.is_empty() || bare_ipv6 || port.is_empty() || !port.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some([host, b":", port].concat())
}

/// The path as the Go SDK (and the original Go server) signs it:
/// `req.URL.Path`, which is percent-decoded (go-sdk `auth/credentials.go`,
/// `collectDataV2`). `None` when that is the path as sent, or when
/// accepting it would be ambiguous.
///
/// Why this is no new way to forge. The service routes on the raw path
/// (split at `/`) and percent-decodes each `{user_id}` segment itself;
/// decoding the whole path is the same as joining those decoded segments
/// with `/`. A signature over a decoded string `D` is accepted for every
/// raw path that decodes to `D`:
///
/// - Raw paths that differ only in how characters other than `/` are
///   escaped (`%E5%BC%A0` / `张`, `%41` / `A`) name the same ids, so the
///   same resource. An escaped literal segment (`%69nfo`) no longer matches
///   the route's literal and becomes an id or a 404/405, never another
///   user's resource under the same decoding.
/// - `%2F`: `/server/user/info/a%2Fb` decodes to `/server/user/info/a/b`.
///   That signature also covers the raw `/server/user/info/a/b`, but that
///   path routes nowhere (404): successful routes need their literal
///   segments unescaped and put every other `/` inside the id, so among
///   raw paths with one decoding at most one routes anywhere, and it is
///   the one the Go client meant (user `a/b`). The one thing this allows:
///   a captured signature for a request that would have been refused
///   (say a client that forgot to escape `a/b`) can be replayed, with the
///   same method, body, query, headers and date, as the request for user
///   `a/b` it obviously meant. Go clients, and the original server, have
///   the same semantics.
/// - Where the two schemes meet, a signature over a string cannot say
///   which scheme made it, so raw wins, and the decoded form is refused
///   when it could be read as something else:
///   * it still holds a `%XX` escape: the Python signature for
///     `GET /server/user/info/%E5%BC%A0` (user `张`) would otherwise also
///     verify `GET /server/user/info/%25E5%25BC%25A0` (user `%E5%BC%A0`).
///     So a Go client whose id contains `%` followed by two hex digits is
///     refused (an id with other `%`s, like `100%`, is fine);
///   * it holds `?` (from `%3F`): `PUT /server/user/u?a=1` signed with a
///     query would otherwise verify the update of user `u?a=1`;
///   * it holds a control character (from `%0A` and the like): a line
///     break in the path would blur the lines of the signing string. No id
///     may contain one anyway.
pub(super) fn go_decoded_path(path: &str) -> Option<Vec<u8>> {
    if !path.contains('%') {
        return None;
    }
    let decoded: Vec<u8> = percent_decode_str(path).collect();
    let ambiguous = decoded.iter().any(|&b| b.is_ascii_control() || b == b'?') || has_percent_escape(&decoded);
    (decoded != path.as_bytes() && !ambiguous).then_some(decoded)
}

/// Whether `bytes` holds a `%` followed by two hex digits: text that
/// percent-decoding would change.
fn has_percent_escape(bytes: &[u8]) -> bool {
    bytes
        .windows(3)
        .any(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit())
}

/// Go's `textproto.CanonicalMIMEHeaderKey`: upper-case the first letter and
/// every letter after a `-`, lower-case the rest; a name with a byte that is
/// not a header token character is returned unchanged.
pub(super) fn canonical_header_key(name: &str) -> String {
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
