//! Sign-in, sign-up, sign-out and settings pages (plain forms; no JS needed).

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::render;
use super::{Chrome, form_token_ok};
use crate::accounts::{self, SignedIn};
use crate::http::api::error::ApiError;
use crate::http::api::extract::Caller;
use crate::http::state::AppState;
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
    let cookie = sessions::session_cookie(&signed_in.token, state.config.secure_cookies());
    with_cookie(Redirect::to("/").into_response(), &cookie)
}

fn form_error(state: &AppState, caller: &Caller, signup: bool, username: String, error: ApiError) -> Response {
    let status = match error.code() {
        "invalid_credentials" => StatusCode::UNAUTHORIZED,
        "rate_limited" => StatusCode::TOO_MANY_REQUESTS,
        "banned" => StatusCode::FORBIDDEN,
        "internal" | "unavailable" => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    };
    let page =
        LoginPage { chrome: Chrome::new(state, caller), signup, username, error: Some(error.message().to_owned()) };
    render(&page, status)
}

/// `POST /login`.
pub async fn login_form(
    State(state): State<AppState>,
    caller: Caller,
    form: Result<Form<CredentialsForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return form_error(&state, &caller, false, String::new(), ApiError::invalid("fill in both fields"));
    };
    match accounts::login(&state, &form.username, &form.password, &caller.client.to_string()).await {
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
        return form_error(&state, &caller, true, String::new(), ApiError::invalid("fill in both fields"));
    };
    match accounts::register(&state, &form.username, &form.password).await {
        Ok(signed_in) => signed_in_redirect(&state, signed_in),
        Err(error) => form_error(&state, &caller, true, form.username, error),
    }
}

/// Body of forms that only carry the session's form token.
#[derive(Debug, Deserialize)]
pub struct TokenForm {
    csrf: Option<String>,
    confirm: Option<String>,
}

/// `POST /logout`.
pub async fn logout_form(
    State(state): State<AppState>,
    caller: Caller,
    form: Result<Form<TokenForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let token = form.ok().and_then(|Form(form)| form.csrf);
    if !form_token_ok(&state, &caller, token.as_deref()) {
        return ApiError::csrf_failed().into_response();
    }
    if let Some(session) = &caller.user
        && let Err(error) = state.writer.revoke_session(session.token_hash).await
    {
        return ApiError::from(error).into_response();
    }
    with_cookie(Redirect::to("/").into_response(), &sessions::clear_session_cookie(state.config.secure_cookies()))
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
    let page = SettingsPage {
        chrome: Chrome::new(&state, &caller),
        confirmation: crate::http::api::DELETE_CONFIRMATION,
        error: None,
    };
    render(&page, StatusCode::OK)
}

/// `POST /settings/delete`: deletes the account after the typed confirmation.
pub async fn delete_form(
    State(state): State<AppState>,
    caller: Caller,
    form: Result<Form<TokenForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Some(session) = caller.user.clone() else { return Redirect::to("/login").into_response() };
    let form = form.ok().map(|Form(form)| form);
    let (token, confirm) = form.map(|f| (f.csrf, f.confirm)).unwrap_or_default();
    if !form_token_ok(&state, &caller, token.as_deref()) {
        return ApiError::csrf_failed().into_response();
    }
    if confirm.as_deref().map(str::trim) != Some(crate::http::api::DELETE_CONFIRMATION) {
        let page = SettingsPage {
            chrome: Chrome::new(&state, &caller),
            confirmation: crate::http::api::DELETE_CONFIRMATION,
            error: Some(format!("Type \"{}\" to confirm.", crate::http::api::DELETE_CONFIRMATION)),
        };
        return render(&page, StatusCode::BAD_REQUEST);
    }
    if let Err(error) = state.writer.delete_user(session.user).await {
        return ApiError::from(error).into_response();
    }
    with_cookie(Redirect::to("/").into_response(), &sessions::clear_session_cookie(state.config.secure_cookies()))
}
