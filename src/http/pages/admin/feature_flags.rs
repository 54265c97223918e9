//! Admin console: feature flags.

use super::*;

/// A flag with its value.
struct FlagRow {
    key: &'static str,
    description: &'static str,
    enabled: bool,
    default: bool,
}

/// `/admin/flags`.
#[derive(Template)]
#[template(path = "admin/flags.html")]
struct FlagsPage {
    chrome: Chrome,
    flash: Flash,
    section: &'static str,
    flags: Vec<FlagRow>,
}

/// `GET /admin/flags`.
pub async fn flags_page(State(state): State<AppState>, caller: Caller, query: QueryResult) -> PageResult {
    let (_, query) = admin_page(&state, &caller, query)?;
    let flags = moderation::flags(&state.services)
        .into_iter()
        .map(|(spec, enabled)| FlagRow { key: spec.key, description: spec.description, enabled, default: spec.default })
        .collect();
    let page = FlagsPage {
        chrome: Chrome::new(&state, &caller),
        flash: Flash::from_query(&state, &query),
        section: "flags",
        flags,
    };
    Ok(render(&page, StatusCode::OK))
}

/// `POST /admin/flags/{key}` with `enabled=true|false`: effective on the next request.
pub async fn set_flag(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    form: FormResult,
) -> PageResult {
    let (admin, fields) = admin_form(&state, &caller, form)?;
    let Some(key) = FlagKey::parse(&key) else {
        return Err(problem(&state, &caller, StatusCode::NOT_FOUND, "Nothing here", "No such feature flag."));
    };
    let outcome = match fields.one("enabled") {
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        _ => Err(ServiceError::invalid("enabled must be true or false")),
    };
    let outcome = match outcome {
        Ok(enabled) => moderation::set_flag(&state.services, admin.user, key, enabled)
            .await
            .map(|()| format!("{key} is now {}.", if enabled { "on" } else { "off" })),
        Err(error) => Err(error),
    };
    Ok(back(&state, "/admin/flags", outcome))
}
