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
pub(super) async fn flags_page(State(state): State<AppState>, caller: Caller, query: QueryResult) -> PageResult {
    let (_, query) = admin_page(&state, &caller, query)?;
    let stored = state.read_model.read(|model| model.stored_flags.clone());
    let flags = flags::FLAGS
        .iter()
        .map(|spec| FlagRow {
            key: spec.key,
            description: spec.description,
            enabled: stored.get(spec.key).copied().unwrap_or(spec.default),
            default: spec.default,
        })
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
pub(super) async fn set_flag(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    form: FormResult,
) -> PageResult {
    let (admin, fields) = admin_form(&state, &caller, form)?;
    let Some(spec) = flags::FLAGS.iter().find(|spec| spec.key == key) else {
        return Err(problem(&state, &caller, StatusCode::NOT_FOUND, "Nothing here", "No such feature flag."));
    };
    let outcome = match fields.one("enabled") {
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        _ => Err(ApiError::invalid("enabled must be true or false")),
    };
    let outcome = match outcome {
        Ok(enabled) => state
            .writer
            .set_flag(spec.key.to_owned(), enabled, Some(admin.user))
            .await
            .map(|()| format!("{} is now {}.", spec.key, if enabled { "on" } else { "off" }))
            .map_err(ApiError::from),
        Err(error) => Err(error),
    };
    Ok(back(&state, "/admin/flags", outcome))
}
