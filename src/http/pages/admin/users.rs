//! Admin console: users.

use super::*;

/// A user in the search results.
struct UserRow {
    id: u64,
    username: String,
    is_admin: bool,
    banned: bool,
    created_at: String,
    is_me: bool,
}

/// `/admin/users`.
#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    chrome: Chrome,
    flash: Flash,
    section: &'static str,
    q: String,
    users: Vec<UserRow>,
    pager: Pager,
}

/// The name prefix searched for, as stored names are: trimmed, lowercase.
fn user_prefix(raw: Option<&str>) -> String {
    raw.unwrap_or("").trim().to_ascii_lowercase().chars().take(MAX_QUERY_CHARS).collect()
}

fn users_path(q: &str) -> String {
    if q.is_empty() { "/admin/users".to_owned() } else { format!("/admin/users?q={}", encode(q)) }
}

/// `GET /admin/users?q=&offset=`: users by name prefix, in name order.
pub async fn users_page(State(state): State<AppState>, caller: Caller, query: QueryResult) -> PageResult {
    let (admin, query) = admin_page(&state, &caller, query)?;
    let offset = parse_offset(query.offset.as_deref()).map_err(|message| bad_request(&state, &caller, &message))?;
    let q = user_prefix(query.q.as_deref());
    let page = Page { limit: USERS_PER_PAGE, offset };
    let (users, has_more) =
        moderation::users(&state.services, &q, page).await.map_err(|error| server_problem(&state, &caller, &error))?;
    let users = users
        .iter()
        .map(|user| UserRow {
            id: user.id.get(),
            username: user.username.clone(),
            is_admin: user.is_admin,
            banned: user.banned,
            created_at: when(user.created_at),
            is_me: user.id == admin.user,
        })
        .collect();
    let page = UsersPage {
        chrome: Chrome::new(&state, &caller),
        flash: Flash::from_query(&state, &query),
        section: "users",
        pager: Pager::new(&users_path(&q), offset, USERS_PER_PAGE, has_more),
        q,
        users,
    };
    Ok(render(&page, StatusCode::OK))
}

/// `POST /admin/users/{id}/{ban|unban|grant-admin|revoke-admin}`.
pub async fn user_action(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, action)): Path<(String, String)>,
    form: FormResult,
) -> PageResult {
    let (admin, fields) = admin_form(&state, &caller, form)?;
    let to = users_path(&user_prefix(fields.one("q")));
    let Some(action) = UserAction::parse(&action) else {
        return Err(problem(&state, &caller, StatusCode::NOT_FOUND, "Nothing here", "No such user action."));
    };
    let Ok(target) = id.parse::<UserId>() else {
        return Ok(back(&state, &to, Err(ServiceError::not_found("no such user"))));
    };
    let outcome = moderation::user_action(&state.services, admin.user, target, action).await.map(|user| match action {
        UserAction::Ban => format!("@{} is banned and signed out everywhere.", user.username),
        UserAction::Unban => format!("@{} is no longer banned.", user.username),
        UserAction::GrantAdmin => format!("@{} is now an admin.", user.username),
        UserAction::RevokeAdmin => format!("@{} is no longer an admin.", user.username),
    });
    Ok(back(&state, &to, outcome))
}
