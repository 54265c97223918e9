//! `GET /api/openapi.json` describes every JSON route the router serves, and
//! real responses match the schemas it gives them.
//!
//! axum's `Router` cannot be listed at run time, so the routes come from the
//! router sources: every `.route(` call under `src/http/api/` and the
//! `/api/` routes of `src/http/router.rs`. The parser is strict: a `.route(` it cannot read
//! fails the test, so a new way of writing routes cannot slip past it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use crate::helpers::spawn_app;

/// Whether a route is a catch-all (`/api/{*rest}`, `/api/admin/{*rest}`…):
/// those answer unknown API paths with a JSON 404 and are not described.
fn is_catch_all(path: &str) -> bool {
    path.ends_with("/{*rest}")
}

/// Methods a route can be registered with; `any` stands for all of them.
const METHODS: [&str; 9] = ["get", "post", "put", "delete", "patch", "head", "options", "trace", "any"];

/// One `.route(path, methods)` call.
#[derive(Debug, PartialEq)]
struct RouteCall {
    path: String,
    methods: Vec<String>,
}

/// Parses the arguments of one `.route(` call: a string literal path and a
/// chain like `get(a::b).post(c)` or `axum::routing::delete(d)`.
fn parse_route_args(args: &str) -> Result<RouteCall, String> {
    let mut rest = args.trim();
    rest = rest.strip_prefix('"').ok_or("the path is not a string literal")?;
    let end = rest.find('"').ok_or("unterminated path literal")?;
    let path = &rest[..end];
    if path.contains('\\') {
        return Err("escapes in the path literal".into());
    }
    rest = rest[end + 1..].trim_start().strip_prefix(',').ok_or("expected `,` after the path")?.trim();
    rest = rest.strip_suffix(',').unwrap_or(rest).trim_end();
    let mut methods = Vec::new();
    loop {
        let name_end = rest.find('(').ok_or("expected a method call like `get(handler)`")?;
        let name = rest[..name_end].trim();
        let method = name.strip_prefix("axum::routing::").or_else(|| name.strip_prefix("routing::")).unwrap_or(name);
        if !METHODS.contains(&method) {
            return Err(format!("unknown method router `{name}`"));
        }
        rest = &rest[name_end + 1..];
        let close = rest.find(')').ok_or("unclosed method call")?;
        let handler = rest[..close].trim();
        let is_path = !handler.is_empty()
            && handler
                .split("::")
                .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        if !is_path {
            return Err(format!("handler `{handler}` is not a plain function path"));
        }
        methods.push(method.to_owned());
        rest = rest[close + 1..].trim_start();
        if rest.is_empty() {
            break;
        }
        rest = rest.strip_prefix('.').ok_or_else(|| format!("unexpected `{rest}` after a method call"))?.trim_start();
    }
    Ok(RouteCall { path: path.to_owned(), methods })
}

/// Every `.route(` call in `source` (comment lines skipped), each parsed.
fn route_calls(source: &str, file: &str) -> Vec<RouteCall> {
    let code: String = source
        .lines()
        .map(|line| if line.trim_start().starts_with("//") { "" } else { line })
        .collect::<Vec<_>>()
        .join("\n");
    for unsupported in [".nest(", ".nest_service(", ".route_service(", ".fallback("] {
        assert!(!code.contains(unsupported), "{file}: `{unsupported}` is not understood by the OpenAPI coverage test");
    }
    let mut calls = Vec::new();
    let mut rest = code.as_str();
    while let Some(start) = rest.find(".route(") {
        let after = &rest[start + ".route(".len()..];
        // The arguments end at the parenthesis that closes `.route(`.
        let mut depth = 1usize;
        let mut end = None;
        for (index, c) in after.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(index);
                        break;
                    }
                }
                _ => {}
            }
        }
        let end = end.unwrap_or_else(|| panic!("{file}: unbalanced `.route(` call"));
        let args = &after[..end];
        match parse_route_args(args) {
            Ok(call) => calls.push(call),
            Err(reason) => panic!("{file}: cannot read `.route({args})`: {reason}"),
        }
        rest = &after[end..];
    }
    calls
}

/// (path, method) of every JSON route the router serves, from the sources.
fn routed() -> BTreeMap<String, BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut routes: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut files: Vec<_> = std::fs::read_dir(root.join("src/http/api"))
        .expect("src/http/api")
        .map(|entry| entry.expect("dir entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .collect();
    files.sort();
    let mut calls = Vec::new();
    for file in &files {
        let source = std::fs::read_to_string(file).expect("read router source");
        calls.extend(route_calls(&source, &file.display().to_string()));
    }
    let router = std::fs::read_to_string(root.join("src/http/router.rs")).expect("src/http/router.rs");
    calls.extend(route_calls(&router, "src/http/router.rs").into_iter().filter(|call| call.path.starts_with("/api/")));
    assert!(calls.len() >= 40, "expected the API's routes, found only {}", calls.len());
    for call in calls {
        assert!(call.path.starts_with("/api/"), "{} is not under /api/", call.path);
        if is_catch_all(&call.path) {
            continue;
        }
        let methods = routes.entry(call.path.clone()).or_default();
        for method in call.methods {
            assert!(methods.insert(method.clone()), "{method} {} is routed twice", call.path);
        }
    }
    routes
}

#[test]
fn the_route_parser_reads_every_form_the_router_uses() {
    let source = r#"
        Router::new()
            // .route("/api/commented-out", get(nothing))
            .route("/api/a", get(a::b))
            .route("/api/b/{id}", get(x).post(y::z).delete(w))
            .route("/api/c", axum::routing::delete(m::n))
            .route(
                "/api/d",
                routing::put(handlers::put_d)
                    .patch(handlers::patch_d),
            )
            .route("/api/{*rest}", axum::routing::any(unknown_route))
    "#;
    let calls = route_calls(source, "sample");
    let found: Vec<(&str, Vec<&str>)> =
        calls.iter().map(|call| (call.path.as_str(), call.methods.iter().map(String::as_str).collect())).collect();
    assert_eq!(
        found,
        vec![
            ("/api/a", vec!["get"]),
            ("/api/b/{id}", vec!["get", "post", "delete"]),
            ("/api/c", vec!["delete"]),
            ("/api/d", vec!["put", "patch"]),
            ("/api/{*rest}", vec!["any"]),
        ]
    );
}

#[test]
fn the_route_parser_refuses_what_it_does_not_understand() {
    for args in [
        r#"PATH, get(h)"#,
        r#""/api/x", on(MethodFilter::GET, h)"#,
        r#""/api/x", get(|| async { "closure" })"#,
        r#""/api/x", get(h).layer(l)"#,
        r#""/api/x", get(h) post(i)"#,
        r#""/api/x""#,
    ] {
        assert!(parse_route_args(args).is_err(), "accepted `{args}`");
    }
    let nested = std::panic::catch_unwind(|| route_calls(r#"Router::new().nest("/api/x", inner())"#, "nested"));
    assert!(nested.is_err(), "`.nest(` must fail the test");
}

/// The operations of the description: path → method → operation.
fn operations(spec: &Value) -> BTreeMap<String, BTreeMap<String, Value>> {
    let paths = spec["paths"].as_object().expect("paths object");
    paths
        .iter()
        .map(|(path, item)| {
            let item = item.as_object().expect("path item object");
            let methods = item
                .iter()
                .filter(|(key, _)| METHODS.contains(&key.as_str()))
                .map(|(method, operation)| (method.clone(), operation.clone()))
                .collect();
            (path.clone(), methods)
        })
        .collect()
}

#[tokio::test]
async fn the_description_covers_every_routed_json_route() {
    let app = spawn_app().await;
    let response = app.get("/api/openapi.json").await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    assert!(content_type.starts_with("application/json"), "content type {content_type}");
    let spec: Value = response.json().await.expect("the description is JSON");

    assert!(spec["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "openapi {}", spec["openapi"]);
    assert_eq!(spec["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(spec["info"]["title"], env!("CARGO_PKG_NAME"));

    let documented = operations(&spec);
    let routed = routed();
    let mut missing = Vec::new();
    for (path, methods) in &routed {
        let documented_methods = documented.get(path);
        for method in methods {
            let present = match (method.as_str(), documented_methods) {
                (_, None) => false,
                ("any", Some(found)) => !found.is_empty(),
                (method, Some(found)) => found.contains_key(method),
            };
            if !present {
                missing.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    assert!(missing.is_empty(), "routed but not in /api/openapi.json (see src/http/api/openapi.rs): {missing:?}");

    let mut stale = Vec::new();
    for (path, methods) in &documented {
        for method in methods.keys() {
            let served = routed.get(path).is_some_and(|m| m.contains(method) || m.contains("any"));
            if !served {
                stale.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    assert!(stale.is_empty(), "documented but not routed: {stale:?}");

    let mut ids = BTreeSet::new();
    for (path, methods) in &documented {
        for (method, operation) in methods {
            let name = format!("{} {path}", method.to_uppercase());
            let id = operation["operationId"].as_str().unwrap_or_else(|| panic!("{name}: no operationId"));
            assert!(ids.insert(id.to_owned()), "{name}: operationId {id} is not unique");
            assert!(operation["tags"].as_array().is_some_and(|tags| !tags.is_empty()), "{name}: no tag");
            let responses = operation["responses"].as_object().unwrap_or_else(|| panic!("{name}: no responses"));
            let success: Vec<_> = responses.iter().filter(|(status, _)| status.starts_with('2')).collect();
            assert!(!success.is_empty(), "{name}: no success response");
            for (status, response) in success {
                let content = response["content"].as_object();
                assert!(content.is_some_and(|c| !c.is_empty()), "{name}: {status} has no body");
                assert!(response["description"].as_str().is_some_and(|d| !d.is_empty()), "{name}: {status}");
            }
            for status in ["429", "500", "503"] {
                assert!(responses.contains_key(status), "{name}: the shared {status} is missing");
            }
            // Every `{param}` of the path is a documented path parameter.
            let declared: BTreeSet<&str> = operation["parameters"]
                .as_array()
                .map(|params| params.iter().filter(|p| p["in"] == "path").filter_map(|p| p["name"].as_str()).collect())
                .unwrap_or_default();
            let in_path: BTreeSet<&str> =
                path.split('/').filter_map(|part| part.strip_prefix('{')?.strip_suffix('}')).collect();
            assert_eq!(declared, in_path, "{name}: path parameters");
        }
    }

    let mut refs = Vec::new();
    collect_refs(&spec, &mut refs);
    assert!(!refs.is_empty());
    for reference in refs {
        assert!(resolve(&spec, &reference).is_some(), "dangling $ref {reference}");
    }
}

fn collect_refs(value: &Value, refs: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                refs.push(reference.clone());
            }
            map.values().for_each(|v| collect_refs(v, refs));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, refs)),
        _ => {}
    }
}

/// Follows a local `#/a/b` reference.
fn resolve<'a>(spec: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    spec.pointer(pointer)
}

/// Checks `value` against `schema` for the subset of JSON Schema utoipa
/// emits (`$ref`, `allOf`, `oneOf`, `type`, `properties`, `required`,
/// `items`, `additionalProperties`, `enum`), collecting mismatches.
fn check(spec: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(reference) = schema["$ref"].as_str() {
        match resolve(spec, reference) {
            Some(target) => check(spec, target, value, at, errors),
            None => errors.push(format!("{at}: dangling {reference}")),
        }
        return;
    }
    if let Some(choices) = schema["oneOf"].as_array() {
        let fits = choices.iter().any(|choice| {
            let mut inner = Vec::new();
            check(spec, choice, value, at, &mut inner);
            inner.is_empty()
        });
        if !fits {
            errors.push(format!("{at}: {value} fits none of oneOf"));
        }
        return;
    }
    if let Some(parts) = schema["allOf"].as_array() {
        // Objects composed with allOf (serde flatten): each key must be known
        // to some part; each part checks its own required keys and values.
        if let Value::Object(map) = value {
            let known: BTreeSet<String> = parts.iter().flat_map(|part| property_names(spec, part)).collect();
            for key in map.keys().filter(|key| !known.contains(*key)) {
                errors.push(format!("{at}.{key}: not in the schema"));
            }
        }
        for part in parts {
            check_lenient(spec, part, value, at, errors);
        }
        return;
    }
    check_typed(spec, schema, value, at, errors, true);
}

/// Like `check`, without refusing keys the schema part does not list.
fn check_lenient(spec: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    match schema["$ref"].as_str().and_then(|reference| resolve(spec, reference)) {
        Some(target) => check_typed(spec, target, value, at, errors, false),
        None => check_typed(spec, schema, value, at, errors, false),
    }
}

fn property_names(spec: &Value, schema: &Value) -> Vec<String> {
    let schema = schema["$ref"].as_str().and_then(|reference| resolve(spec, reference)).unwrap_or(schema);
    schema["properties"].as_object().map(|props| props.keys().cloned().collect()).unwrap_or_default()
}

fn type_fits(name: &str, value: &Value) -> bool {
    match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => false,
    }
}

fn check_typed(spec: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>, closed: bool) {
    let types: Vec<&str> = match &schema["type"] {
        Value::String(name) => vec![name.as_str()],
        Value::Array(names) => names.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() && !types.iter().any(|name| type_fits(name, value)) {
        errors.push(format!("{at}: {value} is not {types:?}"));
        return;
    }
    if let Some(options) = schema["enum"].as_array()
        && !options.contains(value)
    {
        errors.push(format!("{at}: {value} is not one of {options:?}"));
    }
    match value {
        Value::Object(map) => {
            let properties = schema["properties"].as_object();
            if let Some(required) = schema["required"].as_array() {
                for key in required.iter().filter_map(Value::as_str) {
                    if !map.contains_key(key) {
                        errors.push(format!("{at}: required `{key}` is missing"));
                    }
                }
            }
            for (key, item) in map {
                let path = format!("{at}.{key}");
                match properties.and_then(|props| props.get(key)) {
                    Some(property) => check(spec, property, item, &path, errors),
                    None => match &schema["additionalProperties"] {
                        Value::Object(_) => check(spec, &schema["additionalProperties"], item, &path, errors),
                        _ if closed && properties.is_some() => errors.push(format!("{path}: not in the schema")),
                        _ => {}
                    },
                }
            }
        }
        Value::Array(items) if schema["items"].is_object() => {
            for (index, item) in items.iter().enumerate() {
                check(spec, &schema["items"], item, &format!("{at}[{index}]"), errors);
            }
        }
        _ => {}
    }
}

/// The JSON schema of an operation's response with `status`.
fn response_schema<'a>(spec: &'a Value, path: &str, method: &str, status: &str) -> &'a Value {
    let response = &spec["paths"][path][method]["responses"][status];
    let response = match response["$ref"].as_str() {
        Some(reference) => resolve(spec, reference).expect("response ref"),
        None => response,
    };
    let schema = &response["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "{method} {path} {status}: no JSON schema");
    schema
}

fn assert_fits(spec: &Value, schema: &Value, value: &Value, what: &str) {
    let mut errors = Vec::new();
    check(spec, schema, value, "$", &mut errors);
    assert!(errors.is_empty(), "{what} does not match its description: {errors:#?}\nbody: {value}");
}

#[tokio::test]
async fn real_responses_match_their_described_schemas() {
    let app = spawn_app().await;
    let spec = app.get_json("/api/openapi.json").await;

    // Public reads, with the demo season seeded.
    for (path, route) in [
        ("/api/vote", "/api/vote"),
        ("/api/story", "/api/story"),
        ("/api/seasons/active", "/api/seasons/active"),
        ("/api/features", "/api/features"),
        ("/api/search?q=", "/api/search"),
        ("/api/genre-vote", "/api/genre-vote"),
        ("/api/captcha/challenge", "/api/captcha/challenge"),
    ] {
        let body = app.get_json(path).await;
        assert_fits(&spec, response_schema(&spec, route, "get", "200"), &body, path);
    }
    let clip = app.clip_ids().await[0];
    let body = app.get_json(&format!("/api/clips/{clip}")).await;
    assert_fits(&spec, response_schema(&spec, "/api/clips/{id}", "get", "200"), &body, "GET /api/clips/{id}");

    // A write, a comment thread with a reply, and an admin page.
    let response = app.vote(clip).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_fits(&spec, response_schema(&spec, "/api/vote", "post", "200"), &body, "POST /api/vote");

    let user = app.signed_in("schema_checker").await;
    let post = |body: Value| user.post(app.url("/api/comments")).json(&body).send();
    let top: Value =
        post(serde_json::json!({ "clipId": clip, "body": "first" })).await.expect("post").json().await.expect("json");
    assert_fits(&spec, response_schema(&spec, "/api/comments", "post", "201"), &top, "POST /api/comments");
    let reply =
        post(serde_json::json!({ "clipId": clip, "body": "reply", "parentId": top["id"] })).await.expect("post");
    assert_eq!(reply.status(), 201);
    let page = app.get_json(&format!("/api/comments?clipId={clip}")).await;
    assert!(page["comments"][0]["replies"].as_array().is_some_and(|r| !r.is_empty()), "{page}");
    assert_fits(&spec, response_schema(&spec, "/api/comments", "get", "200"), &page, "GET /api/comments");

    let me: Value = user.get(app.url("/api/me")).send().await.expect("me").json().await.expect("json");
    assert_fits(&spec, response_schema(&spec, "/api/me", "get", "200"), &me, "GET /api/me");

    app.create_admin("schema_admin", "correct horse battery").await;
    let admin = app.log_in("schema_admin", "correct horse battery").await;
    for (path, route) in [
        ("/api/admin/users", "/api/admin/users"),
        ("/api/admin/clips?status=active", "/api/admin/clips"),
        ("/api/admin/seasons", "/api/admin/seasons"),
        ("/api/admin/feature-flags", "/api/admin/feature-flags"),
        ("/api/admin/audit-logs", "/api/admin/audit-logs"),
    ] {
        let response = admin.get(app.url(path)).send().await.expect("admin get");
        assert_eq!(response.status(), 200, "{path}");
        let body: Value = response.json().await.expect("json");
        assert_fits(&spec, response_schema(&spec, route, "get", "200"), &body, path);
    }

    // Profiles: my own (with a recent vote), a follow, the public profile,
    // the follower list and the notification the follow sent.
    let clips = app.clip_ids().await;
    let own_vote = clips.get(1).copied().unwrap_or(clip);
    let response =
        user.post(app.url("/api/vote")).json(&serde_json::json!({ "clipId": own_vote })).send().await.expect("vote");
    assert_eq!(response.status(), 200);
    let mine: Value = user.get(app.url("/api/me/profile")).send().await.expect("profile").json().await.expect("json");
    assert!(mine["profile"]["recentVotes"].as_array().is_some_and(|v| !v.is_empty()), "{mine}");
    assert_fits(&spec, response_schema(&spec, "/api/me/profile", "get", "200"), &mine, "GET /api/me/profile");
    let response = admin.post(app.url("/api/users/schema_checker/follow")).send().await.expect("follow");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    let schema = response_schema(&spec, "/api/users/{name}/follow", "post", "200");
    assert_fits(&spec, schema, &body, "POST /api/users/{name}/follow");
    for (path, route) in [
        ("/api/users/schema_checker", "/api/users/{name}"),
        ("/api/users/schema_checker/followers", "/api/users/{name}/{list}"),
    ] {
        let body = app.get_json(path).await;
        assert_fits(&spec, response_schema(&spec, route, "get", "200"), &body, path);
    }
    let inbox: Value = user.get(app.url("/api/notifications")).send().await.expect("inbox").json().await.expect("json");
    assert!(inbox["notifications"].as_array().is_some_and(|n| !n.is_empty()), "{inbox}");
    assert_fits(&spec, response_schema(&spec, "/api/notifications", "get", "200"), &inbox, "GET /api/notifications");

    // Errors use the shared shape, and the schema refuses what the body lacks.
    let response = app.get("/api/clips/999999").await;
    assert_eq!(response.status(), 404);
    let error: Value = response.json().await.expect("json");
    let schema = response_schema(&spec, "/api/clips/{id}", "get", "404");
    assert_fits(&spec, schema, &error, "a 404");
    let mut errors = Vec::new();
    check(&spec, schema, &serde_json::json!({ "error": { "code": "x" }, "extra": 1 }), "$", &mut errors);
    assert_eq!(errors.len(), 2, "the checker must notice a missing and an unknown key: {errors:?}");
}

/// `GET /api/live` is a stream: its schema describes one event after SSE
/// parsing. Schemathesis validates every event against it (ST108); a
/// `string` schema failed on each one.
#[tokio::test]
async fn live_events_match_their_described_schema() {
    let app = spawn_app().await;
    let spec = app.get_json("/api/openapi.json").await;
    let schema = &spec["paths"]["/api/live"]["get"]["responses"]["200"]["content"]["text/event-stream"]["schema"];
    assert_eq!(schema["type"], "object", "{schema}");
    let mut response = app.client.get(app.url("/api/live")).send().await.expect("live");
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), response.chunk())
            .await
            .expect("an event within 10 s")
            .expect("chunk")
            .expect("stream open");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let frame = text.split("\n\n").next().expect("frame");
    let mut event = serde_json::Map::new();
    for line in frame.lines() {
        let (field, value) = line.split_once(": ").expect("field: value");
        event.insert(field.to_owned(), Value::String(value.to_owned()));
    }
    let event = Value::Object(event);
    assert_fits(&spec, schema, &event, "the first /api/live event");
    assert_eq!(event["event"], "snapshot");
    serde_json::from_str::<Value>(event["data"].as_str().expect("data")).expect("data is JSON");
}

/// The `/api/` paths of the router's `shared_reads` groups (`public_cache`).
fn shared_cache_routes() -> BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let router = std::fs::read_to_string(root.join("src/http/router.rs")).expect("src/http/router.rs");
    let mut paths = BTreeSet::new();
    let mut rest = router.as_str();
    while let Some(start) = rest.find("let shared_reads = Router::new()") {
        let group = &rest[start..];
        let end = group.find(';').expect("the shared_reads group ends");
        for call in route_calls(&group[..end], "src/http/router.rs") {
            if call.path.starts_with("/api/") {
                assert_eq!(call.methods, ["get"], "{}: a shared read is a GET", call.path);
                paths.insert(call.path);
            }
        }
        rest = &group[end..];
    }
    paths
}

#[tokio::test]
async fn the_shared_cache_routes_document_their_304_and_nothing_else_does() {
    let app = spawn_app().await;
    let spec: Value = app.get("/api/openapi.json").await.json().await.expect("the description is JSON");
    let shared = shared_cache_routes();
    assert!(shared.len() >= 5, "the router's shared reads: {shared:?}");
    let documented: BTreeSet<String> = operations(&spec)
        .into_iter()
        .filter(|(_, methods)| methods.values().any(|operation| !operation["responses"]["304"].is_null()))
        .map(|(path, _)| path)
        .filter(|path| !path.starts_with("/api/tally/"))
        .collect();
    assert_eq!(documented, shared, "the routes documenting a 304 are the router's shared reads");
    for path in &shared {
        let operation = &spec["paths"][path]["get"];
        let condition = operation["parameters"]
            .as_array()
            .and_then(|params| params.iter().find(|p| p["name"] == "If-None-Match"))
            .unwrap_or_else(|| panic!("{path}: If-None-Match is not documented"));
        assert_eq!(condition["in"], "header", "{path}");
        assert_ne!(condition["required"], true, "{path}");
        let not_modified = &operation["responses"]["304"];
        assert!(not_modified["content"].is_null(), "{path}: a 304 has no body");
        for header in ["ETag", "Cache-Control", "Vary"] {
            assert!(!not_modified["headers"][header].is_null(), "{path}: 304 lacks {header}");
            assert!(!operation["responses"]["200"]["headers"][header].is_null(), "{path}: 200 lacks {header}");
        }
    }

    // The documented answer is the real one.
    let first = app.get("/api/story").await;
    assert_eq!(first.status(), 200);
    let tag = first.headers().get("etag").expect("an anonymous story answer is tagged").clone();
    let again = app.client.get(app.url("/api/story")).header("if-none-match", tag).send().await;
    assert_eq!(again.expect("revalidate").status(), 304);
}
