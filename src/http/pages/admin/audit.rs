//! Admin console: audit log.

use super::*;

/// One audit entry.
struct AuditRow {
    at: String,
    actor: String,
    action: String,
    resource: String,
    details: String,
}

/// `/admin/audit`.
#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    chrome: Chrome,
    flash: Flash,
    section: &'static str,
    entries: Vec<AuditRow>,
    pager: Pager,
}

/// `GET /admin/audit?offset=`: newest first, with the actors' names.
pub async fn audit_page(State(state): State<AppState>, caller: Caller, query: QueryResult) -> PageResult {
    let (_, query) = admin_page(&state, &caller, query)?;
    let offset = parse_offset(query.offset.as_deref()).map_err(|message| bad_request(&state, &caller, &message))?;
    let page = Page { limit: AUDIT_PER_PAGE, offset };
    let loaded = moderation::audit_log_named(&state.services, page).await;
    let (entries, has_more, names) = loaded.map_err(|error| server_problem(&state, &caller, &error))?;
    let entries = entries
        .into_iter()
        .map(|entry| AuditRow {
            at: when(entry.at),
            actor: match entry.actor {
                Some(actor) => names.get(&actor).cloned().unwrap_or_else(|| format!("user #{actor}")),
                None => "system".to_owned(),
            },
            action: entry.action,
            resource: entry.resource,
            details: entry.details,
        })
        .collect();
    let page = AuditPage {
        chrome: Chrome::new(&state, &caller),
        flash: Flash::from_query(&state, &query),
        section: "audit",
        entries,
        pager: Pager::new("/admin/audit", offset, AUDIT_PER_PAGE, has_more),
    };
    Ok(render(&page, StatusCode::OK))
}
