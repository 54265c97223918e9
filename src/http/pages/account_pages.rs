//! Sign-in, sign-up, sign-out and settings pages (plain forms; no JS
//! needed), over `service::accounts`.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::format::{local_path, url_component};
use super::{Chrome, render, sentence};
use crate::http::error::{csrf_failed, status};
use crate::http::extract::{Caller, FormRefusal, PageForm, SignedForm};
use crate::http::state::AppState;
use crate::service::accounts::{self, DELETE_CONFIRMATION, SignedIn};
use crate::service::{ErrorKind, ServiceError};
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

/// Body of forms that only carry the session's form token (and, for the
/// deletion, the typed confirmation).
#[derive(Debug, Default, Deserialize)]
pub struct TokenForm {
    confirm: Option<String>,
}

impl PageForm for TokenForm {}

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
    error: Option<String>,
}

/// `GET /settings` (signed-in only; others go to /login).
pub async fn settings_page(State(state): State<AppState>, caller: Caller) -> Response {
    if caller.user.is_none() {
        return Redirect::to("/login").into_response();
    }
    let page = SettingsPage { chrome: Chrome::new(&state, &caller), confirmation: DELETE_CONFIRMATION, error: None };
    render(&page, StatusCode::OK)
}

/// `POST /settings/delete`: deletes the account after the typed confirmation.
pub async fn delete_form(
    State(state): State<AppState>,
    caller: Caller,
    form: Result<SignedForm<TokenForm>, FormRefusal<TokenForm>>,
) -> Response {
    let Some(session) = caller.user.clone() else { return Redirect::to("/login").into_response() };
    // Signed in, a form that cannot be read carries no token.
    let Ok(SignedForm(form)) = form else { return csrf_failed().into_response() };
    let confirm = form.confirm.unwrap_or_default();
    match accounts::delete_account(&state.services, session.user, &confirm).await {
        Ok(()) => {
            let secure = state.services.config.secure_cookies();
            with_cookie(Redirect::to("/").into_response(), &sessions::clear_session_cookie(secure))
        }
        Err(error) if error.kind() == ErrorKind::Invalid => {
            let page = SettingsPage {
                chrome: Chrome::new(&state, &caller),
                confirmation: DELETE_CONFIRMATION,
                error: Some(sentence(error.message())),
            };
            render(&page, status(error.kind()))
        }
        Err(error) => error.into_response(),
    }
}
