//! CloudWatch metrics without an API call: Embedded Metric Format lines on stdout, which Lambda's
//! log pipeline turns into metrics in the namespace `ihome`, per stage (`IHOME_STAGE`). The SMS
//! sent per hour drive the template's alarm at 80 % of the stack's SMS budget; codes verified ÷
//! codes sent is the conversion ratio that SMS pumping drives down (README, Abuse budgets).
//! Outside Lambda nothing is written: a local run logs the metric at debug level instead.

use std::io::Write;
use std::sync::OnceLock;

use serde_json::{Value, json};

use crate::limits::Budget;

pub const NAMESPACE: &str = "ihome";

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    SmsSent,
    SmsCodeVerified,
    LoginFailed,
    /// A request a budget refused, with the budget as a dimension.
    BudgetRefused(Budget),
    /// A cache tier call that failed or was slow (`crate::cache`).
    CacheUnavailable,
}

impl Metric {
    pub const fn name(self) -> &'static str {
        match self {
            Metric::SmsSent => "SmsSent",
            Metric::SmsCodeVerified => "SmsCodeVerified",
            Metric::LoginFailed => "LoginFailed",
            Metric::BudgetRefused(_) => "BudgetRefused",
            Metric::CacheUnavailable => "CacheUnavailable",
        }
    }

    /// One occurrence as an EMF document.
    pub fn emf(self, stage: &str, timestamp_ms: i64) -> Value {
        let name = self.name();
        let mut dimensions = vec!["Stage"];
        let mut doc = json!({
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [],
            },
            "Stage": stage,
            name: 1,
        });
        if let Metric::BudgetRefused(budget) = self {
            dimensions.push("Budget");
            doc["Budget"] = json!(budget.name());
        }
        doc["_aws"]["CloudWatchMetrics"] = json!([{
            "Namespace": NAMESPACE,
            "Dimensions": [dimensions],
            "Metrics": [{ "Name": name, "Unit": "Count" }],
        }]);
        doc
    }
}

/// The stage, when running under Lambda; `None` elsewhere.
fn lambda_stage() -> Option<&'static str> {
    static STAGE: OnceLock<Option<String>> = OnceLock::new();
    STAGE
        .get_or_init(|| {
            std::env::var_os("AWS_LAMBDA_FUNCTION_NAME")
                .map(|_| std::env::var(crate::config::STAGE_VAR).unwrap_or_else(|_| "default".to_owned()))
        })
        .as_deref()
}

/// Counts one `metric`.
pub fn emit(metric: Metric) {
    let Some(stage) = lambda_stage() else {
        tracing::debug!(metric = metric.name(), "metric");
        return;
    };
    let now_ms = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    let line = metric.emf(stage, now_ms as i64).to_string();
    // One write of one line, so it never interleaves with a log line.
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_emf() {
        let doc = Metric::SmsSent.emf("prod", 1_790_000_000_000);
        assert_eq!(
            doc,
            json!({
                "_aws": {"Timestamp": 1_790_000_000_000i64, "CloudWatchMetrics": [{
                    "Namespace": "ihome", "Dimensions": [["Stage"]],
                    "Metrics": [{"Name": "SmsSent", "Unit": "Count"}]}]},
                "Stage": "prod", "SmsSent": 1
            })
        );
        let doc = Metric::BudgetRefused(Budget::SmsPerIp).emf("dev", 0);
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["Stage", "Budget"]]));
        assert_eq!((doc["Budget"].as_str(), doc["BudgetRefused"].as_i64()), (Some("sms-ip"), Some(1)));
    }
}
