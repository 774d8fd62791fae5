//! Deploy checks: template.yaml, samconfig.toml, events/ and the README agree with the code
//! (`drift`), every event replays through the arm64 binaries `sam build` made (`replay`), and a
//! cold function opens its DynamoDB connection during init, not on its first request (`warm_up`),
//! and counts its budgets in the cache tier when one is configured (`cache_tier`).
//! scripts/deploy-check.sh lints the template and builds those binaries first.

mod cache_tier;
mod drift;
mod files;
mod replay;
mod warm_up;
