//! Which endpoint a method and path name. Routing happens here, inside the
//! function, so that it works the same behind an HTTP API catch-all route,
//! a Function URL or `cargo lambda watch`, none of which fill API Gateway's
//! path parameters.

use super::error::ApiError;
use crate::domain::{Field, UserId};
use lambda_http::http::Method;
use percent_encoding::percent_decode_str;

pub const BASE_PATH: &str = "/server/user";

/// Every endpoint as the API documents it (openapi.yaml, docs/API.md):
/// route name, method, path template. `tests/api/openapi.rs` holds
/// openapi.yaml to this list, and the test below holds [`route`] to it.
pub const ENDPOINTS: [(&str, &str, &str); 7] = [
    ("register", "POST", "/server/user/register"),
    ("register_batch", "POST", "/server/user/register/batch"),
    ("update", "PUT", "/server/user/{user_id}"),
    ("info", "GET", "/server/user/info/{user_id}"),
    ("infos", "GET", "/server/user/infos"),
    ("profile", "GET", "/server/user/profile/{user_id}"),
    ("profiles", "GET", "/server/user/profiles"),
];

/// An endpoint. `{user_id}` segments are kept as sent (still
/// percent-encoded): they are decoded and validated by
/// [`path_user_id`] only after authentication, so that an unauthenticated
/// caller always gets 401, whatever the path holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route<'a> {
    Register,
    RegisterBatch,
    Update(&'a str),
    Info(&'a str),
    Infos,
    Profile(&'a str),
    Profiles,
}

impl Route<'_> {
    /// A short name for logs (never the user id).
    pub fn name(&self) -> &'static str {
        match self {
            Route::Register => "register",
            Route::RegisterBatch => "register_batch",
            Route::Update(_) => "update",
            Route::Info(_) => "info",
            Route::Infos => "infos",
            Route::Profile(_) => "profile",
            Route::Profiles => "profiles",
        }
    }
}

/// Maps a method and a path (without stage or custom-domain prefix, still
/// percent-encoded) to a route. Unknown paths are 404; known paths with
/// another method are 405 with the methods that would work.
///
/// `PUT /server/user/{user_id}` takes any single segment, as the original
/// router did: `PUT /server/user/infos` updates the user called `infos`.
pub fn route<'a>(method: &Method, path: &'a str) -> Result<Route<'a>, ApiError> {
    let rest = path
        .strip_prefix(BASE_PATH)
        .and_then(|rest| rest.strip_prefix('/'))
        .ok_or(ApiError::UnknownPath)?;
    let segments: Vec<&str> = rest.split('/').collect();
    let is = |m: Method| *method == m;
    match segments.as_slice() {
        ["register", "batch"] if is(Method::POST) => Ok(Route::RegisterBatch),
        ["register", "batch"] => Err(ApiError::MethodNotAllowed("POST")),
        ["info", id] if is(Method::GET) => Ok(Route::Info(id)),
        ["profile", id] if is(Method::GET) => Ok(Route::Profile(id)),
        ["info" | "profile", _] => Err(ApiError::MethodNotAllowed("GET")),
        ["register"] if is(Method::POST) => Ok(Route::Register),
        ["infos"] if is(Method::GET) => Ok(Route::Infos),
        ["profiles"] if is(Method::GET) => Ok(Route::Profiles),
        [id] if is(Method::PUT) => Ok(Route::Update(id)),
        ["register"] => Err(ApiError::MethodNotAllowed("POST, PUT")),
        ["infos" | "profiles"] => Err(ApiError::MethodNotAllowed("GET, PUT")),
        [_] => Err(ApiError::MethodNotAllowed("PUT")),
        _ => Err(ApiError::UnknownPath),
    }
}

/// A `{user_id}` path segment, percent-decoded and validated.
pub fn path_user_id(segment: &str) -> Result<UserId, ApiError> {
    let decoded = percent_decode_str(segment)
        .decode_utf8()
        .map_err(|_| ApiError::bad_request("user_id: the path segment is not valid UTF-8 once percent-decoded"))?;
    Ok(UserId::parse(decoded.into_owned(), Field::UserId)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> UserId {
        UserId::parse(s.into(), "user_id").unwrap()
    }

    #[test]
    fn every_endpoint_routes() {
        assert_eq!(route(&Method::POST, "/server/user/register").unwrap(), Route::Register);
        assert_eq!(
            route(&Method::POST, "/server/user/register/batch").unwrap(),
            Route::RegisterBatch
        );
        assert_eq!(route(&Method::PUT, "/server/user/u1").unwrap(), Route::Update("u1"));
        assert_eq!(route(&Method::GET, "/server/user/info/u1").unwrap(), Route::Info("u1"));
        assert_eq!(route(&Method::GET, "/server/user/infos").unwrap(), Route::Infos);
        assert_eq!(
            route(&Method::GET, "/server/user/profile/u1").unwrap(),
            Route::Profile("u1")
        );
        assert_eq!(route(&Method::GET, "/server/user/profiles").unwrap(), Route::Profiles);
    }

    #[test]
    fn the_documented_endpoints_are_exactly_the_routes() {
        let mut names = std::collections::HashSet::new();
        for (name, method, template) in ENDPOINTS {
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let path = template.replace("{user_id}", "some-id");
            assert_eq!(route(&method, &path).unwrap().name(), name, "{method} {template}");
            names.insert(name);
        }
        // Every route has a name of its own, so 7 names are 7 routes.
        assert_eq!(names.len(), 7);
    }

    #[test]
    fn path_user_ids_are_kept_raw_then_percent_decoded_and_validated() {
        assert_eq!(
            route(&Method::GET, "/server/user/info/a%2Fb%20c").unwrap(),
            Route::Info("a%2Fb%20c")
        );
        assert_eq!(path_user_id("a%2Fb%20c").unwrap(), id("a/b c"));
        assert_eq!(path_user_id("%E7%94%A8").unwrap(), id("用"));
        for bad in ["%FF", "", "%07"] {
            assert!(matches!(path_user_id(bad), Err(ApiError::BadRequest(_))), "{bad}");
        }
    }

    #[test]
    fn unknown_paths_are_404() {
        for path in [
            "/",
            "/server/user",
            "/server/users/x",
            "/server/user/info/a/b",
            "/server/user/a/b",
        ] {
            assert!(
                matches!(route(&Method::GET, path), Err(ApiError::UnknownPath)),
                "{path}"
            );
        }
    }

    #[test]
    fn known_paths_with_another_method_are_405() {
        let cases = [
            (Method::GET, "/server/user/register", "POST, PUT"),
            (Method::GET, "/server/user/register/batch", "POST"),
            (Method::POST, "/server/user/info/u1", "GET"),
            (Method::DELETE, "/server/user/infos", "GET, PUT"),
            (Method::PUT, "/server/user/profile/u1", "GET"),
            (Method::POST, "/server/user/profiles", "GET, PUT"),
            (Method::GET, "/server/user/u1", "PUT"),
        ];
        for (method, path, allow) in cases {
            match route(&method, path) {
                Err(ApiError::MethodNotAllowed(got)) => assert_eq!(got, allow, "{method} {path}"),
                other => panic!("{method} {path}: {other:?}"),
            }
        }
    }
}
