//! Deploy checks: template.yaml, samconfig.toml, events/ and the README agree with the code
//! (`drift`), and every event replays through the arm64 binaries `sam build` made (`replay`).
//! scripts/deploy-check.sh lints the template and builds those binaries first.

mod drift;
mod files;
mod replay;
