//! Counts DynamoDB requests with an SDK interceptor: the round trips a route really makes. Each
//! request is also checked against the IAM actions its route declares (`Route::iam_actions`), so
//! every test doubles as a least-privilege check of the policies the template grants.

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use ihome::Route;

tokio::task_local! {
    /// The route whose handler is running in this task, set by the test client.
    pub static CURRENT_ROUTE: Route;
}

#[derive(Debug, Default)]
struct Calls {
    ops: Vec<String>,
    violations: Vec<String>,
    /// Operations made to fail before they are sent (fault injection).
    failing: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct CallCounter(Arc<Mutex<Calls>>);

impl CallCounter {
    /// Operation names recorded since the last `take`, in order sent.
    pub fn take(&self) -> Vec<String> {
        self.0.lock().map(|mut c| std::mem::take(&mut c.ops)).unwrap_or_default()
    }

    /// From now on, these operations fail before reaching the emulator, as a network fault would.
    pub fn fail(&self, ops: &[&str]) {
        if let Ok(mut c) = self.0.lock() {
            c.failing = ops.iter().map(|s| s.to_string()).collect();
        }
    }

    /// Calls made outside the calling route's declared IAM actions.
    pub fn violations(&self) -> Vec<String> {
        self.0.lock().map(|c| c.violations.clone()).unwrap_or_default()
    }
}

/// The IAM actions a DynamoDB request needs: its operation's, or for a write transaction its
/// items' (a `ConditionCheck` needs `dynamodb:ConditionCheckItem`), read from the request body.
pub fn iam_actions(op: &str, body: Option<&[u8]>) -> Vec<String> {
    if op != "TransactWriteItems" {
        return vec![format!("dynamodb:{op}")];
    }
    let body: serde_json::Value = body.and_then(|b| serde_json::from_slice(b).ok()).unwrap_or_default();
    let items = body["TransactItems"].as_array().cloned().unwrap_or_default();
    items
        .iter()
        .filter_map(|item| item.as_object()?.keys().next().cloned())
        .map(|kind| match kind.as_str() {
            "ConditionCheck" => "dynamodb:ConditionCheckItem".to_owned(),
            other => format!("dynamodb:{other}Item"),
        })
        .collect()
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    // Once per attempt on the wire (retries included), just before it is sent.
    fn read_before_transmit(
        &self,
        ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = cfg.load::<Metadata>().map(|m| m.name().to_owned()).unwrap_or_else(|| "unknown".into());
        let route = CURRENT_ROUTE.try_with(|r| *r).ok();
        if let Ok(mut c) = self.0.lock() {
            if let Some(route) = route {
                for action in iam_actions(&op, ctx.request().body().bytes()) {
                    if !route.iam_actions().contains(&action.as_str()) {
                        c.violations.push(format!("{route:?} called {action}"));
                    }
                }
            }
            let fail = c.failing.contains(&op);
            c.ops.push(op);
            if fail {
                return Err("injected fault".into());
            }
        }
        Ok(())
    }
}
