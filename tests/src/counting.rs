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

/// The IAM action a DynamoDB operation needs; transactions need only their items' actions.
pub fn iam_action(op: &str) -> Option<String> {
    (op != "TransactWriteItems" && op != "TransactGetItems").then(|| format!("dynamodb:{op}"))
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    // Once per attempt on the wire (retries included), just before it is sent.
    fn read_before_transmit(
        &self,
        _ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = cfg.load::<Metadata>().map(|m| m.name().to_owned()).unwrap_or_else(|| "unknown".into());
        let route = CURRENT_ROUTE.try_with(|r| *r).ok();
        if let Ok(mut c) = self.0.lock() {
            if let (Some(route), Some(action)) = (route, iam_action(&op))
                && !route.iam_actions().contains(&action.as_str())
            {
                c.violations.push(format!("{route:?} called {action}"));
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
