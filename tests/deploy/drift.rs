//! The deployable bundle agrees with the code. `Route` (shared/src/routes/mod.rs) is the truth:
//! every route must have its crate under functions/, its function in template.yaml (routed exactly
//! its method and path, granted exactly its IAM actions), its events in events/ and its rows in
//! the README's API table, and none of them may name a route that `Route` does not.

use std::collections::{BTreeMap, BTreeSet};

use ihome::Route;
use serde_json::{Value, json};

use crate::files::{self, EventFile};

type Endpoints = BTreeSet<(String, String, String)>;

fn code_endpoints() -> Endpoints {
    Route::ALL
        .iter()
        .flat_map(|r| {
            r.endpoints().iter().map(move |(m, p)| (r.function_name().to_owned(), m.to_string(), p.to_string()))
        })
        .collect()
}

fn code_functions() -> BTreeSet<String> {
    Route::ALL.iter().map(|r| r.function_name().to_owned()).collect()
}

fn template_endpoints(template: &Value) -> Endpoints {
    files::functions(template)
        .values()
        .flat_map(|f| {
            let name = files::binary(f).unwrap_or("<no Binary>").to_owned();
            files::http_events(f).into_iter().map(move |(m, p)| (name.clone(), m, p))
        })
        .collect()
}

fn event_endpoints(events: &[EventFile]) -> Endpoints {
    events
        .iter()
        .map(|e| {
            let key = e.json["routeKey"].as_str().unwrap_or("? ?");
            let (m, p) = key.split_once(' ').unwrap_or((key, ""));
            (e.function.clone(), m.to_owned(), p.to_owned())
        })
        .collect()
}

/// "missing from X: …" / "X has, Route does not: …" lines for one source.
fn compare<T: Ord + std::fmt::Debug>(source: &str, truth: &BTreeSet<T>, got: &BTreeSet<T>, out: &mut Vec<String>) {
    for t in truth.difference(got) {
        out.push(format!("{source} lacks {t:?}"));
    }
    for g in got.difference(truth) {
        out.push(format!("{source} has {g:?}, which Route::ALL does not"));
    }
}

#[test]
fn template_functions_events_and_readme_name_exactly_the_routes_of_the_code() {
    let template = files::template();
    let events = files::event_files();
    let truth = code_endpoints();
    let mut problems = Vec::new();

    compare("functions/", &code_functions(), &files::function_dirs(), &mut problems);
    compare("template.yaml", &truth, &template_endpoints(&template), &mut problems);
    compare("events/ (routeKey of each file)", &truth, &event_endpoints(&events), &mut problems);
    compare("README.md's API table", &truth, &files::readme_routes(), &mut problems);
    // Every function has its plain `<function>.json` event, the one that must succeed.
    for f in code_functions() {
        if !events.iter().any(|e| e.function == f && e.case.is_none()) {
            problems.push(format!("events/ lacks {f}.json"));
        }
    }
    assert!(
        problems.is_empty(),
        "the deployable bundle has drifted from Route::ALL (shared/src/routes/mod.rs):\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn each_function_crate_is_its_routes_binary() {
    let mut problems = Vec::new();
    for dir in files::function_dirs() {
        let manifest: toml::Table = toml::from_str(&files::read(&format!("functions/{dir}/Cargo.toml")))
            .unwrap_or_else(|e| panic!("functions/{dir}/Cargo.toml: {e}"));
        let package = manifest["package"]["name"].as_str().unwrap_or_default();
        if package != dir {
            problems.push(format!("functions/{dir}: package is named {package:?}"));
        }
        if let Some(bins) = manifest.get("bin").and_then(|b| b.as_array()) {
            let names: Vec<_> = bins.iter().filter_map(|b| b.get("name")?.as_str()).collect();
            if names != [dir.as_str()] {
                problems.push(format!("functions/{dir}: binaries {names:?}, want [{dir:?}]"));
            }
        }
        // main.rs serves, and calls the handler of, the route whose function name is the
        // directory's, and no other route's.
        let main = files::read(&format!("functions/{dir}/src/main.rs"));
        let runs: Vec<String> = Route::ALL
            .iter()
            .filter(|r| {
                let module = r.function_name().replace('-', "_");
                main.contains(&format!("Route::{r:?},")) || main.contains(&format!("{module}::handle("))
            })
            .map(|r| r.function_name().to_owned())
            .collect();
        if runs != [dir.clone()] {
            problems.push(format!("functions/{dir}/src/main.rs runs {runs:?}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_template_function_is_an_arm64_cargo_lambda_build_with_json_logs_and_retention() {
    let template = files::template();
    let mut problems = Vec::new();
    for (id, f) in files::functions(&template) {
        let p = |name| files::property(&template, &f, name);
        let mut want = |what: &str, ok: bool| {
            if !ok {
                problems.push(format!("{id}: {what}"));
            }
        };
        let binary = files::binary(&f).unwrap_or_default();
        want("Metadata.BuildMethod is rust-cargolambda", f["Metadata"]["BuildMethod"] == "rust-cargolambda");
        want("Metadata.BuildProperties.Binary names a function", !binary.is_empty());
        want("CodeUri is functions/<Binary>", p("CodeUri").as_str() == Some(&format!("functions/{binary}")));
        want("Runtime is provided.al2023", p("Runtime") == "provided.al2023");
        want("Architectures is [arm64]", p("Architectures") == &json!(["arm64"]));
        want("Handler is bootstrap", p("Handler") == "bootstrap");
        want(
            "LoggingConfig.LogFormat is JSON",
            p("LoggingConfig")["LogFormat"] == "JSON"
                || template["Globals"]["Function"]["LoggingConfig"]["LogFormat"] == "JSON",
        );
        want("MemorySize is set on the function", f["Properties"]["MemorySize"].is_u64());
        let memory = f["Properties"]["MemorySize"].as_u64().unwrap_or(0);
        want("MemorySize within 128–10240 MB", (128..=10240).contains(&memory));
        // Its log group is the stack's, with a retention.
        let group = f["Properties"]["LoggingConfig"]["LogGroup"]["Ref"].as_str().unwrap_or("");
        let res = &template["Resources"][group];
        want(
            "LoggingConfig.LogGroup refs an AWS::Logs::LogGroup of this template with RetentionInDays",
            res["Type"] == "AWS::Logs::LogGroup" && !res["Properties"]["RetentionInDays"].is_null(),
        );
        // Every HttpApi event goes to the stack's API with payload format 2.0.
        for (name, e) in f["Properties"]["Events"].as_object().into_iter().flatten() {
            want(
                &format!("event {name} is an HttpApi event on HttpApi, payload 2.0"),
                e["Type"] == "HttpApi"
                    && e["Properties"]["ApiId"] == json!({"Ref": "HttpApi"})
                    && e["Properties"]["PayloadFormatVersion"] == "2.0",
            );
        }
    }
    // bcrypt is CPU: the functions that hash or verify get at least a full vCPU's worth.
    for (id, f) in files::functions(&template) {
        if matches!(files::binary(&f), Some("register" | "login")) {
            let m = f["Properties"]["MemorySize"].as_u64().unwrap_or(0);
            if m < 1769 {
                problems.push(format!("{id}: bcrypt needs CPU, MemorySize {m} < 1769"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Allowed actions by resource, and the Deny statements, of a function's inline policies; and its
/// other `Policies` entries (a managed policy, a SAM policy template, an `Fn::If`), left unread.
fn policy(f: &Value) -> (BTreeMap<String, BTreeSet<String>>, Vec<Value>, Vec<Value>) {
    let mut allowed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut denied = Vec::new();
    let mut others = Vec::new();
    for p in f["Properties"]["Policies"].as_array().into_iter().flatten() {
        let is_inline = p.as_object().is_some_and(|o| o.keys().all(|k| k == "Statement" || k == "Version"));
        if !is_inline {
            others.push(p.clone());
            continue;
        }
        for s in p["Statement"].as_array().into_iter().flatten() {
            let actions: Vec<String> = match &s["Action"] {
                Value::String(a) => vec![a.clone()],
                Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect(),
                _ => vec![],
            };
            if s["Effect"] == "Deny" {
                denied.push(s.clone());
                continue;
            }
            let resources = match &s["Resource"] {
                Value::Array(r) => r.clone(),
                other => vec![other.clone()],
            };
            for r in resources {
                allowed.entry(r.to_string()).or_default().extend(actions.iter().cloned());
            }
        }
    }
    (allowed, denied, others)
}

/// The functions that keep abuse counters (README, Abuse budgets): they join the cache tier.
const COUNTER_FUNCTIONS: [&str; 4] = ["image-code", "sms-code", "register", "login"];

/// A counter function's place in the cache tier's VPC: there only when the tier is on.
fn cache_tier_vpc_config() -> Value {
    json!({"Fn::If": ["CacheOn",
        {"SubnetIds": [{"Ref": "CacheSubnetA"}, {"Ref": "CacheSubnetB"}],
         "SecurityGroupIds": [{"Ref": "CacheClientSecurityGroup"}]},
        {"Ref": "AWS::NoValue"}]})
}

/// SAM attaches AWSLambdaVPCAccessExecutionRole to a function with a VpcConfig whether or not its
/// condition holds; with the tier off this entry denies the actions that make or grow a network
/// interface, so that an off stack's functions can make none, as without the tier.
fn tier_off_denies_interfaces() -> Value {
    json!({"Fn::If": ["CacheOn", {"Ref": "AWS::NoValue"},
        {"Statement": [{"Effect": "Deny",
                        "Action": ["ec2:CreateNetworkInterface", "ec2:AssignPrivateIpAddresses"],
                        "Resource": "*"}]}]})
}

#[test]
fn every_function_is_granted_exactly_its_routes_iam_actions_on_this_stacks_resources() {
    let template = files::template();
    let table = json!({"Fn::GetAtt": ["Table", "Arn"]}).to_string();
    let anything = json!("*").to_string();
    let avatars = json!({"Fn::Sub": "${AvatarBucket.Arn}/avatars/*"}).to_string();
    let topics = json!({"Fn::Sub": "arn:${AWS::Partition}:sns:*:*:*"});
    let mut problems = Vec::new();
    for (id, f) in files::functions(&template) {
        let Some(route) = Route::ALL.into_iter().find(|r| Some(r.function_name()) == files::binary(&f)) else {
            continue; // reported by the drift test
        };
        if f["Properties"]["Role"] != Value::Null {
            problems.push(format!("{id}: a Role replaces the per-function Policies"));
        }
        let (allowed, denied, others) = policy(&f);
        // Nothing but inline statements, and beside a VpcConfig the tier-off denial.
        let expected_others =
            if f["Properties"]["VpcConfig"].is_null() { vec![] } else { vec![tier_off_denies_interfaces()] };
        if others != expected_others {
            problems.push(format!("{id}: Policies entries other than inline statements: {others:?}"));
        }
        let granted: BTreeSet<&str> = allowed.values().flatten().map(String::as_str).collect();
        let wanted: BTreeSet<&str> = route.iam_actions().iter().copied().collect();
        if granted != wanted {
            problems.push(format!("{id}: grants {granted:?}, Route::{route:?}.iam_actions() is {wanted:?}"));
        }
        for (resource, actions) in &allowed {
            for a in actions {
                let ok = if a.starts_with("dynamodb:") {
                    *resource == table
                } else if a == "sns:Publish" {
                    *resource == anything
                } else if a == "s3:PutObject" || a == "s3:DeleteObject" {
                    *resource == avatars
                } else {
                    false
                };
                if !ok || a.contains('*') {
                    problems.push(format!("{id}: {a} on {resource}"));
                }
            }
        }
        // SMS goes to phone numbers only: Publish to any topic is denied.
        if granted.contains("sns:Publish") {
            let denies_topics = denied.iter().any(|s| {
                s["Action"] == json!(["sns:Publish"]) || s["Action"] == "sns:Publish"
            } && s["Resource"] == topics);
            if !denies_topics {
                problems.push(format!("{id}: sns:Publish without a Deny on every topic"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// CacheTier=on puts the counters in Valkey: only the counter functions join its VPC and get its
/// address; off (the default) creates none of it; the VPC has no way to the internet.
#[test]
fn the_cache_tier_is_off_by_default_and_places_only_the_counter_functions() {
    let t = files::template();
    let mut problems = Vec::new();
    let mut want = |what: String, ok: bool| {
        if !ok {
            problems.push(what);
        }
    };
    let p = &t["Parameters"]["CacheTier"];
    want(
        "parameter CacheTier: off or on, off by default".into(),
        p["AllowedValues"] == json!(["off", "on"]) && p["Default"] == "off",
    );
    want(
        "condition CacheOn is CacheTier = on".into(),
        t["Conditions"]["CacheOn"] == json!({"Fn::Equals": [{"Ref": "CacheTier"}, "on"]}),
    );
    let endpoint = json!({"Fn::If": ["CacheOn",
        {"Fn::Sub": "${Cache.Endpoint.Address}:${Cache.Endpoint.Port}"}, {"Ref": "AWS::NoValue"}]});
    // A stack deployed with the defaults, and the replay (which resolves the same way), get no cache.
    let defaults = files::Resolver { template: &t, resources: BTreeMap::new() };
    want(
        "at the parameters' defaults CacheOn is false and IHOME_CACHE_ENDPOINT unset".into(),
        defaults.condition("CacheOn") == Ok(false) && defaults.resolve_optional(&endpoint) == Ok(None),
    );
    for (id, f) in files::functions(&t) {
        let counts = COUNTER_FUNCTIONS.contains(&files::binary(&f).unwrap_or_default());
        let vpc = &f["Properties"]["VpcConfig"];
        let env = &f["Properties"]["Environment"]["Variables"];
        if counts {
            want(format!("{id}: VpcConfig is the cache tier's, under CacheOn"), *vpc == cache_tier_vpc_config());
            want(
                format!("{id}: IHOME_CACHE_ENDPOINT is the cache's address, under CacheOn"),
                env["IHOME_CACHE_ENDPOINT"] == endpoint,
            );
        } else {
            want(format!("{id}: keeps no counters, yet has a VpcConfig"), vpc.is_null());
            want(
                format!("{id}: keeps no counters, yet has IHOME_CACHE_ENDPOINT"),
                env["IHOME_CACHE_ENDPOINT"].is_null(),
            );
        }
        // The look-up by name would need elasticache:Describe*, which no function is granted.
        want(format!("{id}: sets IHOME_CACHE_NAME"), env["IHOME_CACHE_NAME"].is_null());
    }
    want(
        "Globals set no VpcConfig or cache variable".into(),
        t["Globals"]["Function"]["VpcConfig"].is_null()
            && t["Globals"]["Function"]["Environment"]["Variables"]["IHOME_CACHE_ENDPOINT"].is_null(),
    );
    for (id, r) in t["Resources"].as_object().into_iter().flatten() {
        let ty = r["Type"].as_str().unwrap_or_default();
        if ty.starts_with("AWS::EC2::") || ty.starts_with("AWS::ElastiCache::") {
            want(format!("{id} ({ty}) exists only under CacheOn"), r["Condition"] == "CacheOn");
        }
        let to_internet =
            ["InternetGateway", "EgressOnlyInternetGateway", "NatGateway", "VPCGatewayAttachment", "Route"];
        want(
            format!("{id} ({ty}): the cache's VPC has no way to the internet"),
            !to_internet.iter().any(|x| ty == format!("AWS::EC2::{x}")),
        );
    }
    let cache = &t["Resources"]["Cache"];
    want(
        "Cache is a Valkey serverless cache with usage limits, in the tier's subnets".into(),
        cache["Type"] == "AWS::ElastiCache::ServerlessCache"
            && cache["Properties"]["Engine"] == "valkey"
            && cache["Properties"]["CacheUsageLimits"]["DataStorage"]["Maximum"].is_u64()
            && cache["Properties"]["CacheUsageLimits"]["ECPUPerSecond"]["Maximum"].is_u64()
            && cache["Properties"]["SubnetIds"] == cache_tier_vpc_config()["Fn::If"][1]["SubnetIds"],
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_stack_has_its_table_bucket_cdn_api_parameters_and_outputs() {
    let t = files::template();
    let r = &t["Resources"];
    let mut problems = Vec::new();
    let mut want = |what: &str, ok: bool| {
        if !ok {
            problems.push(what.to_owned());
        }
    };

    let table = &r["Table"]["Properties"];
    want("Table is an AWS::DynamoDB::Table", r["Table"]["Type"] == "AWS::DynamoDB::Table");
    want("Table is on-demand", table["BillingMode"] == "PAY_PER_REQUEST");
    want(
        "Table has the key pk (S) only",
        table["KeySchema"] == json!([{"AttributeName": "pk", "KeyType": "HASH"}])
            && table["AttributeDefinitions"] == json!([{"AttributeName": "pk", "AttributeType": "S"}]),
    );
    want(
        "Table TTL is on, on expires_at",
        table["TimeToLiveSpecification"] == json!({"AttributeName": "expires_at", "Enabled": true}),
    );
    want(
        "Table has point-in-time recovery",
        table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] == true,
    );
    want(
        "Table deletion protection follows the DeletionProtection parameter",
        table["DeletionProtectionEnabled"] == json!({"Fn::If": ["ProtectTable", true, false]})
            && t["Conditions"]["ProtectTable"] == json!({"Fn::Equals": [{"Ref": "DeletionProtection"}, "true"]}),
    );

    let bucket = &r["AvatarBucket"]["Properties"];
    want("AvatarBucket is an AWS::S3::Bucket", r["AvatarBucket"]["Type"] == "AWS::S3::Bucket");
    want(
        "AvatarBucket blocks all public access",
        bucket["PublicAccessBlockConfiguration"]
            == json!({"BlockPublicAcls": true, "BlockPublicPolicy": true,
                      "IgnorePublicAcls": true, "RestrictPublicBuckets": true}),
    );
    want(
        "AvatarBucket is encrypted",
        !bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
            ["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
            .is_null(),
    );
    want(
        "AvatarBucket has no ACLs (BucketOwnerEnforced)",
        bucket["OwnershipControls"]["Rules"][0]["ObjectOwnership"] == "BucketOwnerEnforced",
    );
    let origin = &r["AvatarDistribution"]["Properties"]["DistributionConfig"]["Origins"][0];
    want(
        "AvatarDistribution reads the bucket through the origin access control",
        origin["DomainName"] == json!({"Fn::GetAtt": ["AvatarBucket", "RegionalDomainName"]})
            && origin["OriginAccessControlId"] == json!({"Fn::GetAtt": ["AvatarOriginAccessControl", "Id"]})
            && r["AvatarOriginAccessControl"]["Type"] == "AWS::CloudFront::OriginAccessControl",
    );
    let policy = &r["AvatarBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"];
    want(
        "only CloudFront, for this distribution, may read avatars/",
        policy.as_array().into_iter().flatten().any(|s| {
            s["Effect"] == "Allow"
                && s["Principal"] == json!({"Service": "cloudfront.amazonaws.com"})
                && s["Action"] == "s3:GetObject"
                && s["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]
                    .as_str()
                    .is_some_and(|a| a.ends_with(":distribution/${AvatarDistribution}"))
        }) && policy.as_array().into_iter().flatten().filter(|s| s["Effect"] == "Allow").count() == 1,
    );
    let env = &t["Globals"]["Function"]["Environment"]["Variables"];
    want(
        "the avatar base URL is the CloudFront domain",
        env["IHOME_AVATAR_BASE_URL"] == json!({"Fn::Sub": "https://${AvatarDistribution.DomainName}/"}),
    );
    want(
        "the functions use this table and bucket",
        env["IHOME_TABLE"] == json!({"Ref": "Table"}) && env["IHOME_AVATAR_BUCKET"] == json!({"Ref": "AvatarBucket"}),
    );
    for (var, param) in [
        ("IHOME_BCRYPT_COST", "BcryptCost"),
        ("IHOME_COOKIE_SECURE", "CookieSecure"),
        ("IHOME_SESSION_TTL", "SessionTtlSeconds"),
        ("IHOME_SMS_SENDER_ID", "SmsSenderId"),
    ] {
        want(&format!("{var} comes from the {param} parameter"), env[var] == json!({"Ref": param}));
    }
    for p in [
        "Stage",
        "BcryptCost",
        "CookieSecure",
        "SessionTtlSeconds",
        "AllowedOrigins",
        "DeletionProtection",
        "LogRetentionDays",
    ] {
        want(&format!("parameter {p}"), t["Parameters"][p].is_object());
    }
    let api = &r["HttpApi"];
    want("HttpApi is an AWS::Serverless::HttpApi", api["Type"] == "AWS::Serverless::HttpApi");
    want(
        "HttpApi deploys on the $default stage (no stage prefix in paths)",
        api["Properties"]["StageName"].is_null() || api["Properties"]["StageName"] == "$default",
    );
    want(
        "CORS origins come from AllowedOrigins, with credentials (cookies)",
        api["Properties"]["CorsConfiguration"]["Fn::If"][1]["AllowOrigins"]
            == json!({"Fn::Split": [",", {"Ref": "AllowedOrigins"}]})
            && api["Properties"]["CorsConfiguration"]["Fn::If"][1]["AllowCredentials"] == true,
    );
    for o in ["ApiUrl", "TableName", "AvatarBucketName", "AvatarDomain"] {
        want(&format!("output {o}"), t["Outputs"][o]["Value"] != Value::Null);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Every IHOME_* variable the template sets is one the code reads (a typo would silently leave a
/// default in place): shared/src/config.rs, or the cache tier's own reader (shared/src/cache/).
#[test]
fn template_sets_only_settings_the_code_reads() {
    let config = files::read("shared/src/config.rs") + &files::rust_sources("shared/src/cache");
    let t = files::template();
    let mut names: BTreeSet<String> = BTreeSet::new();
    let mut envs = vec![&t["Globals"]["Function"]["Environment"]["Variables"]];
    let functions = files::functions(&t);
    envs.extend(functions.values().map(|f| &f["Properties"]["Environment"]["Variables"]));
    for env in envs {
        names.extend(env.as_object().into_iter().flatten().map(|(k, _)| k.clone()));
    }
    let unknown: Vec<_> = names.iter().filter(|n| !config.contains(&format!("\"{n}\""))).collect();
    assert!(!names.is_empty());
    assert!(unknown.is_empty(), "template.yaml sets {unknown:?}, which shared/src/config.rs never reads");
}

#[test]
fn samconfig_has_a_dev_default_and_a_prod_environment_of_template_parameters() {
    let sam: toml::Table = toml::from_str(&files::read("samconfig.toml")).expect("samconfig.toml is TOML");
    let t = files::template();
    let mut problems = Vec::new();
    for env in ["default", "prod"] {
        let Some(e) = sam.get(env) else {
            problems.push(format!("no [{env}] environment"));
            continue;
        };
        if e["build"]["parameters"]["beta_features"].as_bool() != Some(true) {
            problems.push(format!("[{env}.build.parameters] lacks beta_features = true (rust-cargolambda)"));
        }
        let deploy = &e["deploy"]["parameters"];
        let caps = deploy.get("capabilities").and_then(|c| c.as_str()).unwrap_or("");
        if !caps.contains("CAPABILITY_IAM") {
            problems.push(format!("[{env}.deploy.parameters] lacks capabilities CAPABILITY_IAM"));
        }
        let overrides = deploy.get("parameter_overrides").and_then(|o| o.as_str()).unwrap_or("");
        let mut given = BTreeMap::new();
        for kv in overrides.split_whitespace() {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            given.insert(k.to_owned(), v.to_owned());
            let p = &t["Parameters"][k];
            if !p.is_object() {
                problems.push(format!("[{env}] overrides {k}, not a template parameter"));
            } else if let Some(allowed) = p["AllowedValues"].as_array()
                && !allowed.iter().any(|a| a.to_string().trim_matches('"') == v)
            {
                problems.push(format!("[{env}] {k}={v} is not one of {allowed:?}"));
            }
        }
        let stage = if env == "default" { "dev" } else { "prod" };
        if given.get("Stage").map(String::as_str) != Some(stage) {
            problems.push(format!("[{env}] should deploy Stage={stage}"));
        }
    }
    let prod = &sam["prod"]["deploy"]["parameters"]["parameter_overrides"];
    if !prod.as_str().unwrap_or("").contains("DeletionProtection=true") {
        problems.push("[prod] should turn DeletionProtection on".into());
    }
    let names: BTreeSet<_> =
        ["default", "prod"].iter().filter_map(|e| sam[*e]["global"]["parameters"]["stack_name"].as_str()).collect();
    if names.len() != 2 {
        problems.push("dev and prod need their own stack_name".into());
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Each event is an API Gateway HTTP API (payload 2.0) request for its own function's route, as
/// lambda_http reads it.
#[test]
fn every_event_is_a_payload_2_request_for_its_functions_route() {
    let mut problems = Vec::new();
    for e in files::event_files() {
        let ev = &e.json;
        let file = &e.file;
        let mut want = |what: &str, ok: bool| {
            if !ok {
                problems.push(format!("events/{file}: {what}"));
            }
        };
        want("version is 2.0", ev["version"] == "2.0");
        let method = ev["requestContext"]["http"]["method"].as_str().unwrap_or("");
        let raw_path = ev["rawPath"].as_str().unwrap_or("");
        want("requestContext.http.path is rawPath", ev["requestContext"]["http"]["path"] == raw_path);
        want("requestContext.routeKey is routeKey", ev["requestContext"]["routeKey"] == ev["routeKey"]);
        want("stage is $default", ev["requestContext"]["stage"] == "$default");
        want("cookies travel in the cookies array, not a Cookie header", ev["headers"]["cookie"].is_null());
        let decoded = raw_path.replace("%20", " ");
        match Route::resolve(method, &decoded) {
            None => want(&format!("{method} {raw_path} is no route"), false),
            Some((route, params)) => {
                want(
                    &format!("routed to {}, not {}", route.function_name(), e.function),
                    route.function_name() == e.function,
                );
                let template = route
                    .endpoints()
                    .iter()
                    .find(|(m, p)| *m == method && files_route_matches(p, &decoded))
                    .map(|(m, p)| format!("{m} {p}"));
                want(
                    "routeKey is the route's METHOD and path template",
                    template.as_deref() == ev["routeKey"].as_str(),
                );
                let expected: serde_json::Map<String, Value> = params.into_iter().map(|(k, v)| (k, json!(v))).collect();
                let got = ev["pathParameters"].as_object().cloned().unwrap_or_default();
                want("pathParameters match the path", got == expected);
            }
        }
        // Query parameters agree with the raw query string.
        let raw_query = ev["rawQueryString"].as_str().unwrap_or("");
        let from_raw: BTreeMap<String, String> = raw_query
            .split('&')
            .filter(|s| !s.is_empty())
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let params: BTreeMap<String, String> = ev["queryStringParameters"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
            .collect();
        want("queryStringParameters match rawQueryString", from_raw == params);
        // lambda_http itself turns it into a request.
        match lambda_http::request::from_str(&ev.to_string()) {
            Ok(req) => want("lambda_http reads the method", req.method().as_str() == method),
            Err(err) => want(&format!("lambda_http cannot read it: {err}"), false),
        }
        // A body's declared length is its length; a base64 body decodes.
        if let Some(body) = ev["body"].as_str() {
            let bytes = if ev["isBase64Encoded"] == true {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD.decode(body).unwrap_or_default()
            } else {
                body.as_bytes().to_vec()
            };
            want(
                "content-length is the body's length",
                ev["headers"]["content-length"].as_str() == Some(bytes.len().to_string().as_str()),
            );
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn files_route_matches(template: &str, path: &str) -> bool {
    let t: Vec<_> = template.split('/').collect();
    let p: Vec<_> = path.split('/').collect();
    t.len() == p.len() && t.iter().zip(&p).all(|(a, b)| (a.starts_with('{') && !b.is_empty()) || a == b)
}

/// The avatar event carries a real multipart body: a form field `avatar` holding a PNG.
#[test]
fn the_avatar_event_carries_a_base64_multipart_png() {
    use base64::Engine;
    let ev = &files::event_files()
        .into_iter()
        .find(|e| e.function == "upload-avatar" && e.case.is_none())
        .expect("events/upload-avatar.json")
        .json;
    assert_eq!(ev["isBase64Encoded"], true);
    let ct = ev["headers"]["content-type"].as_str().unwrap_or("");
    let boundary = ct.split("boundary=").nth(1).expect("multipart content-type with a boundary");
    assert!(ct.starts_with("multipart/form-data;"), "{ct}");
    let body =
        base64::engine::general_purpose::STANDARD.decode(ev["body"].as_str().unwrap_or("")).expect("base64 body");
    let head = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"avatar\"");
    assert!(body.starts_with(head.as_bytes()), "first part is the avatar field");
    let start = body.windows(4).position(|w| w == b"\r\n\r\n").expect("part headers end") + 4;
    assert!(body[start..].starts_with(b"\x89PNG\r\n\x1a\n"), "the part holds a PNG");
    assert!(body.ends_with(format!("\r\n--{boundary}--\r\n").as_bytes()));
    let png = image::load_from_memory(&body[start..body.len() - boundary.len() - 8]).expect("the PNG decodes");
    assert!(png.width() > 0 && png.height() > 0);
}

/// The table the local server and the tests create (`ihome_local::backends::create_table`, the
/// one definition outside the stack) is the template's: created in moto, then described.
#[tokio::test]
async fn the_table_the_local_server_and_tests_create_is_the_templates() {
    let t = files::template();
    let table = &t["Resources"]["Table"]["Properties"];
    let sdk = ihome_tests::sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let name = ihome_tests::unique("definition");
    ihome_local::backends::create_table(&client, &name).await.expect("create the table in moto");
    let described = client.describe_table().table_name(&name).send().await.expect("describe table");
    let d = described.table.expect("a table description");
    let keys: Vec<Value> = d
        .key_schema()
        .iter()
        .map(|k| json!({"AttributeName": k.attribute_name(), "KeyType": k.key_type().as_str()}))
        .collect();
    let attrs: Vec<Value> = d
        .attribute_definitions()
        .iter()
        .map(|a| json!({"AttributeName": a.attribute_name(), "AttributeType": a.attribute_type().as_str()}))
        .collect();
    assert_eq!(Value::Array(keys), table["KeySchema"], "key schema");
    assert_eq!(Value::Array(attrs), table["AttributeDefinitions"], "attribute definitions");
    let billing = d.billing_mode_summary().and_then(|b| b.billing_mode()).map(|b| b.as_str().to_owned());
    assert_eq!(billing.as_deref(), table["BillingMode"].as_str(), "billing mode");
    let ttl = client.describe_time_to_live().table_name(&name).send().await.expect("describe TTL");
    let ttl = ttl.time_to_live_description.expect("a TTL description");
    assert_eq!(ttl.attribute_name(), table["TimeToLiveSpecification"]["AttributeName"].as_str(), "TTL attribute");
    assert_eq!(ttl.time_to_live_status().map(|s| s.as_str()), Some("ENABLED"), "TTL on");
}

/// `openapi.yaml` (OpenAPI 3.1, the machine-readable contract) names exactly the methods and
/// paths of `Route::ALL`, under the API's base path; `docs/api.md`'s route table lists each.
#[test]
fn the_openapi_contract_names_exactly_the_routes_of_the_code() {
    let spec: Value = serde_norway::from_str(&files::read("openapi.yaml")).expect("openapi.yaml is YAML");
    assert_eq!(spec["openapi"].as_str().map(|v| v.starts_with("3.1")), Some(true), "OpenAPI 3.1");
    let base = spec["servers"][0]["url"].as_str().expect("servers[0].url");
    let mut documented = BTreeSet::new();
    let mut problems = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths").iter() {
        for (method, op) in item.as_object().into_iter().flatten() {
            if ["get", "put", "post", "delete", "patch", "head", "options"].contains(&method.as_str()) {
                documented.insert((method.to_uppercase(), format!("{base}{path}")));
                if op["operationId"].as_str().is_none() {
                    problems.push(format!("{method} {path} has no operationId"));
                }
            }
        }
    }
    let truth: BTreeSet<(String, String)> = code_endpoints().into_iter().map(|(_, m, p)| (m, p)).collect();
    compare("openapi.yaml", &truth, &documented, &mut problems);
    let guide = files::read("docs/api.md");
    // Its route table names each as METHOD `/path`, relative to the base path.
    for (method, path) in &truth {
        let relative = path.strip_prefix(base).unwrap_or(path);
        let row = format!("{method} `{relative}");
        if !guide.contains(&format!("{row}`")) && !guide.contains(&format!("{row}?")) {
            problems.push(format!("docs/api.md's route table lacks {method} `{relative}`"));
        }
    }
    assert!(problems.is_empty(), "the contract has drifted from Route::ALL:\n  {}", problems.join("\n  "));
}
