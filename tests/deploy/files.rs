//! Readers for the deployable bundle: template.yaml (with CloudFormation's short tags), the
//! function crates, events/, samconfig.toml and the README's API table. Each says plainly which
//! file is wrong when it cannot read one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

/// The workspace root (this crate lives in `tests/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

pub fn read(rel: &str) -> String {
    let path = root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// A CloudFormation template as JSON, short tags written out long (`!Ref X` → `{"Ref": "X"}`,
/// `!GetAtt A.B` → `{"Fn::GetAtt": ["A", "B"]}`, `!Sub s` → `{"Fn::Sub": s}`, …).
pub fn template_at(rel: &str) -> Value {
    let text = read(rel);
    let yaml: serde_norway::Value = serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{rel} is not YAML: {e}"));
    yaml_to_json(yaml)
}

pub fn template() -> Value {
    template_at("template.yaml")
}

fn yaml_to_json(v: serde_norway::Value) -> Value {
    use serde_norway::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => json!(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                json!(i)
            } else if let Some(u) = n.as_u64() {
                json!(u)
            } else {
                json!(n.as_f64())
            }
        }
        Y::String(s) => json!(s),
        Y::Sequence(seq) => Value::Array(seq.into_iter().map(yaml_to_json).collect()),
        Y::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match k {
                    Y::String(s) => s,
                    other => serde_norway::to_string(&other).unwrap_or_default().trim().to_owned(),
                };
                out.insert(key, yaml_to_json(v));
            }
            Value::Object(out)
        }
        Y::Tagged(t) => {
            let tag = t.tag.to_string();
            let name = tag.trim_start_matches('!').to_owned();
            let value = yaml_to_json(t.value);
            match name.as_str() {
                "Ref" | "Condition" => json!({ name: value }),
                "GetAtt" => match value {
                    Value::String(s) => {
                        let (res, attr) = s.split_once('.').unwrap_or((s.as_str(), ""));
                        json!({"Fn::GetAtt": [res, attr]})
                    }
                    other => json!({"Fn::GetAtt": other}),
                },
                _ => json!({ format!("Fn::{name}"): value }),
            }
        }
    }
}

/// The template's `AWS::Serverless::Function`s by logical id.
pub fn functions(template: &Value) -> BTreeMap<String, Value> {
    template["Resources"]
        .as_object()
        .expect("template.yaml has Resources")
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(k, r)| (k.clone(), r.clone()))
        .collect()
}

/// A function's property, or the Globals' when the function does not set it.
pub fn property<'a>(template: &'a Value, function: &'a Value, name: &str) -> &'a Value {
    let own = &function["Properties"][name];
    if own.is_null() { &template["Globals"]["Function"][name] } else { own }
}

/// The binary a template function builds (its `Metadata.BuildProperties.Binary`).
pub fn binary(function: &Value) -> Option<&str> {
    function["Metadata"]["BuildProperties"]["Binary"].as_str()
}

/// (method, path) pairs a template function is routed, from its `HttpApi` events.
pub fn http_events(function: &Value) -> BTreeSet<(String, String)> {
    function["Properties"]["Events"]
        .as_object()
        .map(|events| {
            events
                .values()
                .filter(|e| e["Type"] == "HttpApi")
                .map(|e| {
                    (
                        e["Properties"]["Method"].as_str().unwrap_or("?").to_uppercase(),
                        e["Properties"]["Path"].as_str().unwrap_or("?").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The text of every `.rs` file under a directory of the workspace (none if it does not exist).
pub fn rust_sources(rel: &str) -> String {
    fn walk(dir: &Path, out: &mut String) {
        let mut entries: Vec<PathBuf> =
            std::fs::read_dir(dir).into_iter().flatten().filter_map(Result::ok).map(|e| e.path()).collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
            }
        }
    }
    let mut out = String::new();
    walk(&root().join(rel), &mut out);
    out
}

/// The crates under `functions/` (directories with a Cargo.toml).
pub fn function_dirs() -> BTreeSet<String> {
    let dir = root().join("functions");
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// One file of `events/`: `<function>.json` or `<function>.<case>.json`.
pub struct EventFile {
    pub file: String,
    pub function: String,
    pub case: Option<String>,
    pub json: Value,
}

pub fn event_files() -> Vec<EventFile> {
    let dir = root().join("events");
    let mut files: Vec<EventFile> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .map(|file| {
            let stem = file
                .strip_suffix(".json")
                .unwrap_or_else(|| panic!("events/{file}: every file in events/ is a .json event"));
            let (function, case) = match stem.split_once('.') {
                Some((f, c)) => (f.to_owned(), Some(c.to_owned())),
                None => (stem.to_owned(), None),
            };
            let json = serde_json::from_str(&read(&format!("events/{file}")))
                .unwrap_or_else(|e| panic!("events/{file} is not JSON: {e}"));
            EventFile { file, function, case, json }
        })
        .collect();
    files.sort_by(|a, b| (&a.function, &a.case).cmp(&(&b.function, &b.case)));
    files
}

/// The README's API table: (function, METHOD, path) per row, the query string dropped.
pub fn readme_routes() -> BTreeSet<(String, String, String)> {
    let readme = read("README.md");
    let mut rows = BTreeSet::new();
    let mut in_table = false;
    for line in readme.lines() {
        let cells: Vec<&str> = line.trim().trim_matches('|').split('|').map(str::trim).collect();
        if !line.trim_start().starts_with('|') {
            in_table = false;
            continue;
        }
        if cells.len() >= 3 && cells[0] == "route" && cells[1] == "method and path" && cells[2] == "function" {
            in_table = true;
            continue;
        }
        if !in_table || cells.len() < 3 || cells[0].starts_with("---") {
            continue;
        }
        let Some((method, path)) = cells[1].split_once(' ') else {
            continue;
        };
        let path = path.trim().trim_matches('`');
        let path = path.split('?').next().unwrap_or(path);
        rows.insert((cells[2].trim_matches('`').to_owned(), method.trim().to_uppercase(), path.to_owned()));
    }
    rows
}

/// Resolves the intrinsics a function's environment uses, the way a deployed stack would: a
/// parameter to its default, a resource or attribute to what the caller says it is, `Fn::If` by
/// its condition evaluated at the parameters' defaults.
pub struct Resolver<'a> {
    pub template: &'a Value,
    pub resources: BTreeMap<&'a str, String>,
}

impl Resolver<'_> {
    pub fn resolve(&self, v: &Value) -> Result<String, String> {
        self.resolve_optional(v)?.ok_or_else(|| "AWS::NoValue where a value is needed".to_owned())
    }

    /// A value, or None where it is `AWS::NoValue` (CloudFormation then leaves the key out).
    pub fn resolve_optional(&self, v: &Value) -> Result<Option<String>, String> {
        if *v == json!({"Ref": "AWS::NoValue"}) {
            return Ok(None);
        }
        if let Some(args) = v.get("Fn::If").filter(|_| v.as_object().is_some_and(|o| o.len() == 1)) {
            let [name, then, otherwise] = args.as_array().map(Vec::as_slice).unwrap_or_default() else {
                return Err("Fn::If takes [condition, value if true, value if false]".into());
            };
            let name = name.as_str().ok_or("Fn::If names its condition")?;
            return self.resolve_optional(if self.condition(name)? { then } else { otherwise });
        }
        self.resolve_value(v).map(Some)
    }

    /// A condition of the template, at the parameters' defaults.
    pub fn condition(&self, name: &str) -> Result<bool, String> {
        let c = &self.template["Conditions"][name];
        if c.is_null() {
            return Err(format!("no condition {name}"));
        }
        self.truth(c)
    }

    fn truth(&self, c: &Value) -> Result<bool, String> {
        let o = c.as_object().filter(|o| o.len() == 1).ok_or_else(|| format!("not a condition: {c}"))?;
        let (k, arg) = o.iter().next().ok_or("empty condition")?;
        let list = || arg.as_array().ok_or_else(|| format!("{k} takes a list"));
        match k.as_str() {
            "Condition" => self.condition(arg.as_str().ok_or("Condition takes a name")?),
            "Fn::Equals" => match list()?.as_slice() {
                [a, b] => Ok(self.resolve(a)? == self.resolve(b)?),
                _ => Err("Fn::Equals takes two values".into()),
            },
            "Fn::Not" => match list()?.as_slice() {
                [a] => Ok(!self.truth(a)?),
                _ => Err("Fn::Not takes one condition".into()),
            },
            "Fn::And" => list()?.iter().try_fold(true, |all, a| Ok(all && self.truth(a)?)),
            "Fn::Or" => list()?.iter().try_fold(false, |any, a| Ok(any || self.truth(a)?)),
            other => Err(format!("{other} is not a condition function")),
        }
    }

    fn resolve_value(&self, v: &Value) -> Result<String, String> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            Value::Object(o) if o.len() == 1 => {
                let (k, arg) = o.iter().next().ok_or("empty intrinsic")?;
                match k.as_str() {
                    "Ref" => self.name(arg.as_str().ok_or("Ref takes a name")?),
                    "Fn::GetAtt" => {
                        let parts: Vec<&str> =
                            arg.as_array().ok_or("GetAtt takes a list")?.iter().filter_map(Value::as_str).collect();
                        self.name(&parts.join("."))
                    }
                    "Fn::Sub" => {
                        let s = arg.as_str().ok_or("only the one-argument Fn::Sub is resolved")?;
                        let mut out = String::new();
                        let mut rest = s;
                        while let Some(i) = rest.find("${") {
                            out.push_str(&rest[..i]);
                            let end = rest[i..].find('}').ok_or("unclosed ${ in Fn::Sub")? + i;
                            out.push_str(&self.name(&rest[i + 2..end])?);
                            rest = &rest[end + 1..];
                        }
                        out.push_str(rest);
                        Ok(out)
                    }
                    other => Err(format!("{other} is not resolved here")),
                }
            }
            other => Err(format!("cannot resolve {other}")),
        }
    }

    fn name(&self, name: &str) -> Result<String, String> {
        if let Some(v) = self.resources.get(name) {
            return Ok(v.clone());
        }
        let param = &self.template["Parameters"][name];
        if !param.is_null() {
            return match &param["Default"] {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                _ => Err(format!("parameter {name} has no default")),
            };
        }
        Err(format!("{name} is neither a parameter nor a known resource"))
    }
}
