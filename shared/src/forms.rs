//! Request bodies that more than one route reads, parsed into valid values in one place.

use lambda_http::Request;
use serde::Deserialize;

use crate::domain::{Mobile, Password, SmsCode};
use crate::error::ApiError;
use crate::http;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeAndPasswordBody {
    mobile: Option<String>,
    sms_code: Option<String>,
    password: Option<String>,
    password2: Option<String>,
}

/// `{mobile, sms_code, password[, password2]}` (registration, a password reset), judged in this
/// order: all given, the mobile, the repeated password, the password's rules, the code's shape.
pub fn code_and_password(req: &Request) -> Result<(Mobile, SmsCode, Password), ApiError> {
    let body: CodeAndPasswordBody = http::json_body(req)?;
    let (Some(mobile), Some(sms_code), Some(password)) =
        (http::given(body.mobile), http::given(body.sms_code), body.password.filter(|p| !p.is_empty()))
    else {
        return Err(ApiError::incomplete());
    };
    let mobile = Mobile::parse(mobile.trim()).ok_or_else(|| ApiError::param("手机号格式错误"))?;
    if body.password2.is_some_and(|p2| p2 != password) {
        return Err(ApiError::param("两次输入的密码不一致"));
    }
    let password = Password::parse(&password).map_err(|e| ApiError::param(e.message()))?;
    let sms_code = SmsCode::parse(&sms_code).ok_or_else(|| ApiError::param("短信验证码格式错误"))?;
    Ok((mobile, sms_code, password))
}
