//! The errno codes of API.md and the JSON envelope every route answers with.

use serde::Serialize;

/// An errno of API.md. Sent as a string (`"0"`, not `0`): the web client compares strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Errno {
    Ok,
    DbErr,
    NoData,
    DataExist,
    DataErr,
    SessionErr,
    LoginErr,
    ParamErr,
    UserErr,
    RoleErr,
    PwdErr,
    ReqErr,
    IpErr,
    ThirdErr,
    IoErr,
    ServerErr,
    UnknownErr,
}

impl Errno {
    pub const fn code(self) -> &'static str {
        match self {
            Errno::Ok => "0",
            Errno::DbErr => "4001",
            Errno::NoData => "4002",
            Errno::DataExist => "4003",
            Errno::DataErr => "4004",
            Errno::SessionErr => "4101",
            Errno::LoginErr => "4102",
            Errno::ParamErr => "4103",
            Errno::UserErr => "4104",
            Errno::RoleErr => "4105",
            Errno::PwdErr => "4106",
            Errno::ReqErr => "4201",
            Errno::IpErr => "4202",
            Errno::ThirdErr => "4301",
            Errno::IoErr => "4302",
            Errno::ServerErr => "4500",
            Errno::UnknownErr => "4501",
        }
    }

    pub const fn default_message(self) -> &'static str {
        match self {
            Errno::Ok => "成功",
            Errno::DbErr => "数据库查询错误",
            Errno::NoData => "无数据",
            Errno::DataExist => "数据已存在",
            Errno::DataErr => "数据错误",
            Errno::SessionErr => "用户未登录",
            Errno::LoginErr => "用户登录失败",
            Errno::ParamErr => "参数错误",
            Errno::UserErr => "用户不存在或未激活",
            Errno::RoleErr => "用户身份错误",
            Errno::PwdErr => "密码错误",
            Errno::ReqErr => "非法请求或请求次数受限",
            Errno::IpErr => "IP受限",
            Errno::ThirdErr => "第三方系统错误",
            Errno::IoErr => "文件读写错误",
            Errno::ServerErr => "内部错误",
            Errno::UnknownErr => "未知错误",
        }
    }
}

/// `{"errno": "...", "errmsg": "...", "data": ...}`; `data` only where a route returns it.
#[derive(Debug, Serialize)]
pub struct Envelope<'a, T: Serialize> {
    pub errno: &'static str,
    pub errmsg: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<T>,
}

impl<'a, T: Serialize> Envelope<'a, T> {
    pub fn new(errno: Errno, errmsg: &'a str, data: Option<T>) -> Self {
        Envelope { errno: errno.code(), errmsg, data }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_is_a_string_and_data_is_omitted_when_absent() {
        let body = serde_json::to_value(Envelope::<()>::new(Errno::SessionErr, "用户未登录", None)).unwrap();
        assert_eq!(body, serde_json::json!({"errno": "4101", "errmsg": "用户未登录"}));
    }

    #[test]
    fn codes_match_the_contract() {
        let all = [
            (Errno::Ok, "0"),
            (Errno::DbErr, "4001"),
            (Errno::NoData, "4002"),
            (Errno::DataExist, "4003"),
            (Errno::DataErr, "4004"),
            (Errno::SessionErr, "4101"),
            (Errno::LoginErr, "4102"),
            (Errno::ParamErr, "4103"),
            (Errno::UserErr, "4104"),
            (Errno::RoleErr, "4105"),
            (Errno::PwdErr, "4106"),
            (Errno::ReqErr, "4201"),
            (Errno::IpErr, "4202"),
            (Errno::ThirdErr, "4301"),
            (Errno::IoErr, "4302"),
            (Errno::ServerErr, "4500"),
            (Errno::UnknownErr, "4501"),
        ];
        for (errno, code) in all {
            assert_eq!(errno.code(), code);
            assert!(!errno.default_message().is_empty());
        }
    }
}
