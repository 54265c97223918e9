//! Sign-in, sign-up, sign-out and settings pages (plain forms; no JS
//! needed), over `service::accounts`.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::format::{local_path, url_component};
use super::{Chrome, render};
use crate::domain::account;
use crate::http::error::{csrf_failed, status};
use crate::http::extract::{Caller, FormRefusal, PageForm, SignedForm};
use crate::http::state::AppState;
use crate::service::ServiceError;
use crate::service::accounts::{self, DELETE_CONFIRMATION, SignedIn};
use crate::sessions;

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// `/login` and `/signup`.
#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    chrome: Chrome,
    signup: bool,
    username: String,
    error: Option<String>,
    /// Where to go once signed in: a path on this site, or empty.
    next: String,
}

impl LoginPage {
    /// `?next=…` for the link to the other form (sign in ↔ sign up).
    pub fn next_query(&self) -> String {
        if self.next.is_empty() { String::new() } else { format!("?next={}", url_component(&self.next)) }
    }
}

/// Body of the sign-in and sign-up forms.
#[derive(Debug, Deserialize)]
pub struct CredentialsForm {
    username: String,
    password: String,
    next: Option<String>,
}

/// Query of `/login` and `/signup`: the page to return to.
#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// The query as read: a garbled one is the same as none.
type NextParam = Result<Query<NextQuery>, axum::extract::rejection::QueryRejection>;

/// `next` if sign-in may send the person there (a path on this site),
/// else nothing: a hostile or garbled value is dropped, not refused.
fn safe_next(next: Option<&str>) -> String {
    next.and_then(local_path).unwrap_or_default().to_owned()
}

fn blank_form(state: &AppState, caller: &Caller, signup: bool, query: NextParam) -> Response {
    let next = safe_next(query.as_ref().ok().and_then(|Query(q)| q.next.as_deref()));
    let page = LoginPage { chrome: Chrome::new(state, caller), signup, username: String::new(), error: None, next };
    render(&page, StatusCode::OK)
}

/// `GET /login`.
pub async fn login_page(State(state): State<AppState>, caller: Caller, query: NextParam) -> Response {
    blank_form(&state, &caller, false, query)
}

/// `GET /signup`.
pub async fn signup_page(State(state): State<AppState>, caller: Caller, query: NextParam) -> Response {
    blank_form(&state, &caller, true, query)
}

/// Signed in: set the cookie and go back where the person came from.
fn signed_in_redirect(state: &AppState, signed_in: SignedIn, next: &str) -> Response {
    let cookie = sessions::session_cookie(&signed_in.token, state.services.config.secure_cookies());
    let target = if next.is_empty() { "/" } else { next };
    with_cookie(Redirect::to(target).into_response(), &cookie)
}

fn form_error(
    state: &AppState,
    caller: &Caller,
    signup: bool,
    form: (String, String),
    error: ServiceError,
) -> Response {
    let (username, next) = form;
    let page = LoginPage {
        chrome: Chrome::new(state, caller),
        signup,
        username,
        error: Some(error.message().to_owned()),
        next,
    };
    render(&page, status(error.kind()))
}

/// `POST /login`.
pub async fn login_form(
    State(state): State<AppState>,
    caller: Caller,
    form: Result<Form<CredentialsForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        let blank = (String::new(), String::new());
        return form_error(&state, &caller, false, blank, ServiceError::invalid("fill in both fields"));
    };
    let next = safe_next(form.next.as_deref());
    match accounts::login(&state.services, &form.username, &form.password, caller.client).await {
        Ok(signed_in) => signed_in_redirect(&state, signed_in, &next),
        Err(error) => form_error(&state, &caller, false, (form.username, next), error),
    }
}

/// `POST /signup`.
pub async fn signup_form(
    State(state): State<AppState>,
    caller: Caller,
    form: Result<Form<CredentialsForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        let blank = (String::new(), String::new());
        return form_error(&state, &caller, true, blank, ServiceError::invalid("fill in both fields"));
    };
    let next = safe_next(form.next.as_deref());
    match accounts::register(&state.services, &form.username, &form.password).await {
        Ok(signed_in) => signed_in_redirect(&state, signed_in, &next),
        Err(error) => form_error(&state, &caller, true, (form.username, next), error),
    }
}

/// Body of the sign-out form, which only carries the session's form token.
#[derive(Debug, Default, Deserialize)]
pub struct TokenForm {}

impl PageForm for TokenForm {}

/// Body of the account deletion form: the typed confirmation and the
/// current password.
#[derive(Debug, Default, Deserialize)]
pub struct DeleteForm {
    confirm: Option<String>,
    password: Option<String>,
}

impl PageForm for DeleteForm {}

/// Body of the change-password form.
#[derive(Debug, Default, Deserialize)]
pub struct PasswordForm {
    current_password: Option<String>,
    new_password: Option<String>,
}

impl PageForm for PasswordForm {}

/// `POST /logout`.
pub async fn logout_form(
    State(state): State<AppState>,
    caller: Caller,
    form: Result<SignedForm<TokenForm>, FormRefusal<TokenForm>>,
) -> Response {
    // A form that cannot be read carries no token: only the signed-out pass.
    match form {
        Ok(_) => {}
        Err(FormRefusal::Unreadable(_)) if caller.user.is_none() => {}
        Err(_) => return csrf_failed().into_response(),
    }
    if let Some(session) = &caller.user
        && let Err(error) = accounts::logout(&state.services, session.token_hash).await
    {
        return error.into_response();
    }
    let secure = state.services.config.secure_cookies();
    with_cookie(Redirect::to("/").into_response(), &sessions::clear_session_cookie(secure))
}

/// `/settings`.
#[derive(Template)]
#[template(path = "settings.html")]
pub struct SettingsPage {
    chrome: Chrome,
    confirmation: &'static str,
    min_password_chars: usize,
    notice: Option<&'static str>,
    error: Option<String>,
}

/// Query of `/settings`: what the last form post did, as a code (the page
/// words it, so a crafted link cannot put other text on it).
#[derive(Debug, Default, Deserialize)]
pub struct SettingsQuery {
    notice: Option<String>,
    error: Option<String>,
}

fn settings_notice(code: &str) -> Option<&'static str> {
    match code {
        "password_changed" => Some("Your password is changed. Every other device was signed out."),
        _ => None,
    }
}

fn settings_error(code: &str) -> Option<String> {
    let text = match code {
        "wrong_password" => "Your current password is wrong. Nothing was changed.".to_owned(),
        "password_missing" => "Enter your current password. Nothing was changed.".to_owned(),
        "new_password" => format!(
            "The new password must be {} to {} characters. Nothing was changed.",
            account::MIN_PASSWORD_CHARS,
            account::MAX_PASSWORD_CHARS
        ),
        "confirm" => format!("Type \u{201c}{DELETE_CONFIRMATION}\u{201d} to confirm. Nothing was deleted."),
        "rate_limited" => "Too many wrong passwords for this account; try again later.".to_owned(),
        "unavailable" => "The server is busy. Please try again.".to_owned(),
        _ => "That did not work. Nothing was changed.".to_owned(),
    };
    Some(text)
}

/// `GET /settings` (signed-in only; others go to /login).
pub async fn settings_page(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<SettingsQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if caller.user.is_none() {
        return Redirect::to("/login").into_response();
    }
    let query = query.map(|Query(query)| query).unwrap_or_default();
    let page = SettingsPage {
        chrome: Chrome::new(&state, &caller),
        confirmation: DELETE_CONFIRMATION,
        min_password_chars: account::MIN_PASSWORD_CHARS,
        notice: query.notice.as_deref().and_then(settings_notice),
        error: query.error.as_deref().and_then(settings_error),
    };
    render(&page, StatusCode::OK)
}

/// The 303 back to `/settings` after a form, with the code of what went
/// wrong. `invalid_field` names the field an `invalid_request` is about.
fn back_to_settings_with(error: &ServiceError, invalid_field: &str) -> Response {
    let code = match error.code() {
        "wrong_password" | "rate_limited" | "unavailable" => error.code(),
        "invalid_request" => invalid_field,
        _ => "failed",
    };
    Redirect::to(&format!("/settings?error={code}")).into_response()
}

/// `POST /settings/password`: changes the password (current one required)
/// and signs out every other session; this browser stays signed in.
pub async fn password_form(
    State(state): State<AppState>,
    caller: Caller,
    form: Result<SignedForm<PasswordForm>, FormRefusal<PasswordForm>>,
) -> Response {
    let Some(session) = caller.user.clone() else { return Redirect::to("/login").into_response() };
    // Signed in, a form that cannot be read carries no token.
    let Ok(SignedForm(form)) = form else { return csrf_failed().into_response() };
    let current = form.current_password.unwrap_or_default();
    if current.is_empty() {
        return Redirect::to("/settings?error=password_missing").into_response();
    }
    let new = form.new_password.unwrap_or_default();
    match accounts::change_password(&state.services, &session, &current, &new).await {
        Ok(()) => Redirect::to("/settings?notice=password_changed").into_response(),
        Err(error) => back_to_settings_with(&error, "new_password"),
    }
}

/// `POST /settings/delete`: deletes the account after the typed
/// confirmation and the current password.
pub async fn delete_form(
    State(state): State<AppState>,
    caller: Caller,
    form: Result<SignedForm<DeleteForm>, FormRefusal<DeleteForm>>,
) -> Response {
    let Some(session) = caller.user.clone() else { return Redirect::to("/login").into_response() };
    // Signed in, a form that cannot be read carries no token.
    let Ok(SignedForm(form)) = form else { return csrf_failed().into_response() };
    let confirm = form.confirm.unwrap_or_default();
    let password = form.password.unwrap_or_default();
    if password.is_empty() {
        return Redirect::to("/settings?error=password_missing").into_response();
    }
    match accounts::delete_account(&state.services, &session, &confirm, &password).await {
        Ok(()) => {
            let secure = state.services.config.secure_cookies();
            with_cookie(Redirect::to("/").into_response(), &sessions::clear_session_cookie(secure))
        }
        Err(error) => back_to_settings_with(&error, "confirm"),
    }
}
