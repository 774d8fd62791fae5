//! The routes of API.md. `Route` is the single list: function names, methods and paths (what the
//! template must route), IAM actions; the drift checks read it. Each route's handler is the
//! library of its function's crate (`functions/<name>/src/lib.rs`), which its `main` serves
//! directly; the local server and the tests link them all (`ihome_local::routes::handle`).

use std::time::Instant;

use lambda_http::{Body, Response};

use crate::error::ApiError;
use crate::http;

pub const BASE_PATH: &str = "/api/v1.0";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    ImageCode,
    SmsCode,
    Register,
    Login,
    GetUser,
    UploadAvatar,
    SetName,
    SetAuth,
    GetAuth,
    Logout,
    GetSession,
    ChangePassword,
    ResetPassword,
    LogoutAll,
    DeleteUser,
}

impl Route {
    pub const ALL: [Route; 15] = [
        Route::ImageCode,
        Route::SmsCode,
        Route::Register,
        Route::Login,
        Route::GetUser,
        Route::UploadAvatar,
        Route::SetName,
        Route::SetAuth,
        Route::GetAuth,
        Route::Logout,
        Route::GetSession,
        Route::ChangePassword,
        Route::ResetPassword,
        Route::LogoutAll,
        Route::DeleteUser,
    ];

    /// The function's name: its crate and binary under `functions/`, its event files, its logs.
    pub const fn function_name(self) -> &'static str {
        match self {
            Route::ImageCode => "image-code",
            Route::SmsCode => "sms-code",
            Route::Register => "register",
            Route::Login => "login",
            Route::GetUser => "get-user",
            Route::UploadAvatar => "upload-avatar",
            Route::SetName => "set-name",
            Route::SetAuth => "set-auth",
            Route::GetAuth => "get-auth",
            Route::Logout => "logout",
            Route::GetSession => "get-session",
            Route::ChangePassword => "change-password",
            Route::ResetPassword => "reset-password",
            Route::LogoutAll => "logout-all",
            Route::DeleteUser => "delete-user",
        }
    }

    /// (method, path template) pairs routed to this function, as API Gateway writes them.
    pub const fn endpoints(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Route::ImageCode => &[("GET", "/api/v1.0/imagecode/{image_code_id}")],
            Route::SmsCode => &[("GET", "/api/v1.0/smscode/{mobile}")],
            Route::Register => &[("POST", "/api/v1.0/users")],
            Route::Login => &[("POST", "/api/v1.0/sessions")],
            Route::GetUser => &[("GET", "/api/v1.0/user")],
            Route::UploadAvatar => &[("POST", "/api/v1.0/user/avatar")],
            Route::SetName => &[("PUT", "/api/v1.0/user/name")],
            Route::SetAuth => &[("POST", "/api/v1.0/user/auth")],
            Route::GetAuth => &[("GET", "/api/v1.0/user/auth")],
            // Some iHome pages call DELETE /sessions: accepted as an alias.
            Route::Logout => &[("DELETE", "/api/v1.0/session"), ("DELETE", "/api/v1.0/sessions")],
            Route::GetSession => &[("GET", "/api/v1.0/session")],
            Route::ChangePassword => &[("PUT", "/api/v1.0/user/password")],
            Route::ResetPassword => &[("POST", "/api/v1.0/password/reset")],
            Route::LogoutAll => &[("DELETE", "/api/v1.0/user/sessions")],
            Route::DeleteUser => &[("DELETE", "/api/v1.0/user")],
        }
    }

    /// Every AWS IAM action the route's code calls: its function's policy, exactly (least
    /// privilege). Transactions are authorised per contained action, so they add none of their own.
    pub const fn iam_actions(self) -> &'static [&'static str] {
        // Init opens the DynamoDB connection without a request (`Destination::preconnect`): no
        // action of its own.
        match self {
            // Abuse budgets (crate::limits) are counted with UpdateItem.
            Route::ImageCode => &["dynamodb:PutItem", "dynamodb:UpdateItem"],
            Route::SmsCode => {
                &["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "sns:Publish"]
            }
            Route::Register => &["dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
            // A session is added on condition that the password is still the one verified
            // (ConditionCheck); a full session index is read (GetItem) and written whole.
            Route::Login => &[
                "dynamodb:ConditionCheckItem",
                "dynamodb:DeleteItem",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
            ],
            // Sessions live in the user's item: one GetItem authenticates.
            Route::GetUser | Route::GetSession | Route::GetAuth => &["dynamodb:GetItem"],
            Route::UploadAvatar => &["dynamodb:GetItem", "dynamodb:UpdateItem", "s3:DeleteObject", "s3:PutObject"],
            Route::SetName => &["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
            Route::SetAuth => &["dynamodb:GetItem", "dynamodb:UpdateItem"],
            // Ending sessions is an update of the user's session index.
            Route::Logout | Route::LogoutAll => &["dynamodb:UpdateItem"],
            // Counted like a login (failures per address: PutItem/UpdateItem, cleared with
            // DeleteItem; the mobile's budget: UpdateItem).
            Route::ChangePassword => {
                &["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
            }
            Route::ResetPassword => &["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:UpdateItem"],
            Route::DeleteUser => &[
                "dynamodb:DeleteItem",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "s3:DeleteObject",
            ],
        }
    }

    /// The route and path parameters for a request line, as API Gateway would route it.
    pub fn resolve(method: &str, path: &str) -> Option<(Route, Vec<(String, String)>)> {
        Route::ALL.into_iter().find_map(|route| {
            route.endpoints().iter().find_map(|(m, template)| {
                if !m.eq_ignore_ascii_case(method) {
                    return None;
                }
                match_template(template, path).map(|params| (route, params))
            })
        })
    }

    /// A handler's outcome as the response, logged once with its errno and time.
    pub fn respond(self, started: Instant, result: Result<Response<Body>, ApiError>) -> Response<Body> {
        let (resp, errno) = match result {
            Ok(resp) => (resp, "0"),
            Err(e) => (http::error_response(&e), e.errno().code()),
        };
        tracing::info!(
            route = self.function_name(),
            errno,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "request"
        );
        resp
    }
}

/// Matches `/a/{x}/b` against a path; one segment per parameter, never empty.
fn match_template(template: &str, path: &str) -> Option<Vec<(String, String)>> {
    let mut params = Vec::new();
    let mut t = template.split('/');
    let mut p = path.split('/');
    loop {
        match (t.next(), p.next()) {
            (None, None) => return Some(params),
            (Some(ts), Some(ps)) => {
                if let Some(name) = ts.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    if ps.is_empty() {
                        return None;
                    }
                    params.push((name.to_owned(), ps.to_owned()));
                } else if ts != ps {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_like_the_template() {
        let (r, p) = Route::resolve("GET", "/api/v1.0/imagecode/abc-1").unwrap();
        assert_eq!((r, p), (Route::ImageCode, vec![("image_code_id".into(), "abc-1".into())]));
        assert_eq!(Route::resolve("DELETE", "/api/v1.0/sessions").unwrap().0, Route::Logout);
        assert_eq!(Route::resolve("POST", "/api/v1.0/sessions").unwrap().0, Route::Login);
        assert!(Route::resolve("GET", "/api/v1.0/imagecode/").is_none());
        assert!(Route::resolve("GET", "/api/v1.0/imagecode/a/b").is_none());
        assert!(Route::resolve("PUT", "/api/v1.0/users").is_none());
    }

    #[test]
    fn names_and_endpoints_are_unique() {
        let names: std::collections::HashSet<_> = Route::ALL.iter().map(|r| r.function_name()).collect();
        assert_eq!(names.len(), Route::ALL.len());
        let eps: Vec<_> = Route::ALL.iter().flat_map(|r| r.endpoints()).collect();
        let distinct: std::collections::HashSet<_> = eps.iter().collect();
        assert_eq!(distinct.len(), eps.len());
        assert!(eps.iter().all(|(_, p)| p.starts_with(BASE_PATH)));
    }
}
