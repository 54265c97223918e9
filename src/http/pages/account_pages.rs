//! Sign-in, sign-up, sign-out and settings pages (plain forms; no JS
//! needed), over `service::accounts`.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

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
}

/// Body of the sign-in and sign-up forms.
#[derive(Debug, Deserialize)]
pub struct CredentialsForm {
    username: String,
    password: String,
}

/// `GET /login`.
pub async fn login_page(State(state): State<AppState>, caller: Caller) -> Response {
    let page = LoginPage { chrome: Chrome::new(&state, &caller), signup: false, username: String::new(), error: None };
    render(&page, StatusCode::OK)
}

/// `GET /signup`.
pub async fn signup_page(State(state): State<AppState>, caller: Caller) -> Response {
    let page = LoginPage { chrome: Chrome::new(&state, &caller), signup: true, username: String::new(), error: None };
    render(&page, StatusCode::OK)
}

fn signed_in_redirect(state: &AppState, signed_in: SignedIn) -> Response {
    let cookie = sessions::session_cookie(&signed_in.token, state.services.config.secure_cookies());
    with_cookie(Redirect::to("/").into_response(), &cookie)
}

fn form_error(state: &AppState, caller: &Caller, signup: bool, username: String, error: ServiceError) -> Response {
    let page =
        LoginPage { chrome: Chrome::new(state, caller), signup, username, error: Some(error.message().to_owned()) };
    render(&page, status(error.kind()))
}

/// `POST /login`.
pub async fn login_form(
    State(state): State<AppState>,
    caller: Caller,
    form: Result<Form<CredentialsForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return form_error(&state, &caller, false, String::new(), ServiceError::invalid("fill in both fields"));
    };
    match accounts::login(&state.services, &form.username, &form.password, caller.client).await {
        Ok(signed_in) => signed_in_redirect(&state, signed_in),
        Err(error) => form_error(&state, &caller, false, form.username, error),
    }
}

/// `POST /signup`.
pub async fn signup_form(
    State(state): State<AppState>,
    caller: Caller,
    form: Result<Form<CredentialsForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return form_error(&state, &caller, true, String::new(), ServiceError::invalid("fill in both fields"));
    };
    match accounts::register(&state.services, &form.username, &form.password).await {
        Ok(signed_in) => signed_in_redirect(&state, signed_in),
        Err(error) => form_error(&state, &caller, true, form.username, error),
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
