//! Extractors that carry policy, so handlers do not repeat it: JSON bodies
//! and query strings whose rejections use our error shape, the caller
//! behind a request (client address, session, voter key), signed-in users
//! and admins, path segments parsed into typed ids and actions (a bad one
//! is the JSON 404), and page form posts (urlencoded or multipart) whose
//! per-session form token is checked once, here.

use std::marker::PhantomData;
use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Multipart, Path, RawForm, Request};
use axum::http::request::Parts;
use axum::http::uri::PathAndQuery;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::auth;
use crate::domain::account::Username;
use crate::domain::clock::Timestamp;
use crate::domain::flags::FlagKey;
use crate::domain::ids::{ClipId, CommentId, ReportId, SeasonId, SlotPosition, UserId, VoteId, VoterKey};
use crate::domain::leaderboard::Board;
use crate::domain::moderation::{SeasonAction, SlotAction, UserAction};
use crate::http::error::csrf_failed;
use crate::http::state::AppState;
use crate::service::ServiceError;
use crate::service::profiles::FollowList;
use crate::sessions::{self, SessionUser};

/// A JSON body. Wrong content type → 415, too large → 413, anything but
/// one JSON object of the right shape → 400, each in the standard error
/// shape (see [`json_object`]).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ServiceError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ServiceError> {
        if !is_json(request.headers()) {
            return Err(ServiceError::unsupported_media_type("send the body as application/json"));
        }
        let body = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ServiceError::payload_too_large("the request body is too large")
            } else {
                ServiceError::invalid("the request body could not be read")
            }
        })?;
        json_object(&body).map(ApiJson)
    }
}

/// `application/json` or any `application/*+json`, as axum's `Json` checks.
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses a request body that must be one JSON object. serde also reads a
/// struct from a JSON array (`[3, "super"]` as `{"clipId": 3, "voteType":
/// "super"}`), bypassing `deny_unknown_fields`, so anything but an object is
/// refused first. The refusal quotes at most 40 characters of any input
/// and names no Rust type.
///
/// The whole body must be UTF-8 (RFC 8259 §8.1), checked before parsing:
/// serde_json checks only the strings it keeps, so invalid bytes inside an
/// ignored unknown field used to be accepted (found by the fuzz bench, #18).
pub fn json_object<T: DeserializeOwned>(body: &[u8]) -> Result<T, ServiceError> {
    let first = body.iter().find(|byte| !byte.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(ServiceError::invalid("the body must be a JSON object"));
    }
    let text = std::str::from_utf8(body).map_err(|error| {
        ServiceError::invalid(format!("the body is not valid UTF-8 (byte {})", error.valid_up_to()))
    })?;
    serde_json::from_str(text).map_err(|error| ServiceError::invalid(describe_json_error(&error)))
}

/// A serde_json error in words fit for a client.
fn describe_json_error(error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let (line, column) = (error.line(), error.column());
    match error.classify() {
        Category::Syntax | Category::Eof => format!("the body is not valid JSON (line {line}, column {column})"),
        Category::Io => "the request body could not be read".to_owned(),
        Category::Data => {
            let message = error.to_string();
            let message = message.split(" at line ").next().unwrap_or(&message);
            format!("invalid body: {} (line {line}, column {column})", client_safe(message))
        }
    }
}

/// Longest piece of client input quoted in an error message, in characters.
const MAX_QUOTED_CHARS: usize = 40;

/// Longest message made from a serde error, in bytes. A field name holding
/// back-quotes splits the pieces [`client_safe`] shortens, so the client's
/// text would land outside them and come back whole (found by the fuzz
/// bench, #18); this bounds the answer whatever serde quotes.
const MAX_MESSAGE_BYTES: usize = 240;

/// A serde message made safe to show: each back-quoted piece (a field name
/// or value the client sent) shortened to [`MAX_QUOTED_CHARS`], and Rust
/// type names (`struct CastRequest`) replaced by what they mean on the wire.
fn client_safe(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(400));
    for (n, piece) in message.split('`').enumerate() {
        if n > 0 {
            out.push('`');
        }
        if n % 2 == 1 {
            let short: String = piece.chars().take(MAX_QUOTED_CHARS).collect();
            out.push_str(&short);
            if short.len() < piece.len() {
                out.push('…');
            }
        } else {
            out.push_str(&without_type_names(piece));
        }
    }
    if out.len() > MAX_MESSAGE_BYTES {
        let mut cut = MAX_MESSAGE_BYTES;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}

fn without_type_names(text: &str) -> String {
    let mut out = String::new();
    let mut words = text.split(' ').peekable();
    while let Some(word) = words.next() {
        let replacement = match word {
            "struct" => Some("an object"),
            "enum" => Some("one of the allowed values"),
            _ => None,
        };
        if let Some(replacement) = replacement
            && words.peek().is_some_and(|name| name.starts_with(|c: char| c.is_ascii_uppercase()))
        {
            words.next();
            out.push_str(replacement);
        } else {
            out.push_str(word);
        }
        out.push(' ');
    }
    out.pop();
    out
}

/// A query string whose rejections use our error shape.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ServiceError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ServiceError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| ApiQuery(value))
            .map_err(|rejection: QueryRejection| ServiceError::invalid(client_safe(&rejection.body_text())))
    }
}

/// Where a request comes from: the client address after the trusted-proxy
/// walk, and the signed-in user if its session cookie is live. Sessions are
/// read from memory: building this touches no storage.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The client address.
    pub client: IpAddr,
    /// The signed-in user, if any.
    pub user: Option<SessionUser>,
    /// The User-Agent header, shared with the request rather than copied.
    user_agent: Option<HeaderValue>,
    /// The path and query this request asked for, shared likewise.
    path_and_query: Option<PathAndQuery>,
}

impl Caller {
    /// The path and query this request asked for (pages use it for the
    /// current tab and as the place sign-in returns to).
    pub fn path(&self) -> &str {
        self.path_and_query.as_ref().map_or("/", PathAndQuery::as_str)
    }

    /// The User-Agent header, or "" without a readable one.
    fn user_agent(&self) -> &str {
        self.user_agent.as_ref().and_then(|value| value.to_str().ok()).unwrap_or("")
    }

    /// The voter key this caller votes as: the account when signed in,
    /// otherwise the anonymous device key.
    pub fn voter_key(&self, state: &AppState) -> VoterKey {
        match &self.user {
            Some(session) => VoterKey::user(session.user),
            None => auth::device_voter_key(&state.voter_key, self.client, self.user_agent()),
        }
    }

    /// The caller's network for fraud signals: IPv4 /24 or IPv6 /48, hashed.
    pub fn network(&self) -> u64 {
        auth::network_id(self.client)
    }

    /// The signed-in user's id.
    pub fn user_id(&self) -> Option<UserId> {
        self.user.as_ref().map(|user| user.user)
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ServiceError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ServiceError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .ok_or_else(|| ServiceError::internal("request without peer address"))?;
        let forwarded = parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
        let client = auth::client_ip(peer, forwarded, &state.services.config.trusted_proxies);
        let user_agent = parts.headers.get(header::USER_AGENT).cloned();
        let user = parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find_map(sessions::token_from_cookie_header)
            .and_then(|token| state.services.sessions.lookup(&token, Timestamp::now()));
        let path_and_query = parts.uri.path_and_query().cloned();
        Ok(Caller { client, user, user_agent, path_and_query })
    }
}

/// The voter behind a request.
pub struct Voter(pub VoterKey);

impl FromRequestParts<AppState> for Voter {
    type Rejection = ServiceError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ServiceError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        Ok(Voter(caller.voter_key(state)))
    }
}

/// A signed-in user; 401 `auth_required` otherwise.
pub struct AuthUser(pub SessionUser);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ServiceError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ServiceError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.user.map(AuthUser).ok_or_else(ServiceError::auth_required)
    }
}

/// A signed-in admin; 401 without a session, 403 for other users.
pub struct AdminUser(pub SessionUser);

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ServiceError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ServiceError> {
        let AuthUser(user) = AuthUser::from_request_parts(parts, state).await?;
        if user.is_admin { Ok(AdminUser(user)) } else { Err(ServiceError::forbidden("admins only")) }
    }
}

// ---------------------------------------------------------------------------
// Typed path segments

/// A value a path segment names. A segment that does not parse names
/// nothing, so it is answered as not found, with the type's own words.
pub trait PathSegment: Sized + Send {
    /// Parses one segment.
    fn parse_segment(raw: &str) -> Option<Self>;
    /// What a segment that does not parse is told.
    fn not_found() -> ServiceError;
}

macro_rules! path_segment {
    ($type:ty, $message:literal, $parse:expr) => {
        impl PathSegment for $type {
            fn parse_segment(raw: &str) -> Option<Self> {
                let parse: fn(&str) -> Option<Self> = $parse;
                parse(raw)
            }

            fn not_found() -> ServiceError {
                ServiceError::not_found($message)
            }
        }
    };
}

path_segment!(ClipId, "no such clip", |raw| raw.parse().ok());
path_segment!(SeasonId, "no such season", |raw| raw.parse().ok());
path_segment!(UserId, "no such user", |raw| raw.parse().ok());
path_segment!(SlotPosition, "no such slot", |raw| raw.parse::<u32>().ok().and_then(SlotPosition::new));
path_segment!(Username, "no such user", |raw| Username::parse(raw).ok());
path_segment!(UserAction, "no such action", UserAction::parse);
path_segment!(SeasonAction, "no such action", SeasonAction::parse);
path_segment!(SlotAction, "no such action", SlotAction::parse);
path_segment!(Board, "no such leaderboard; use clips, creators or voters", Board::parse);
path_segment!(FollowList, "no such API route", FollowList::parse);
path_segment!(FlagKey, "no such feature flag", FlagKey::parse);

path_segment!(CommentId, "no such comment", |raw| raw.parse().ok());
path_segment!(VoteId, "no such vote", |raw| raw.parse().ok());
path_segment!(ReportId, "no such report", |raw| raw.parse().ok());

/// One typed path segment.
pub struct Segment<T>(pub T);

impl<T: PathSegment, S: Send + Sync> FromRequestParts<S> for Segment<T> {
    type Rejection = ServiceError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ServiceError> {
        let Ok(Path(raw)) = Path::<String>::from_request_parts(parts, state).await else { return Err(T::not_found()) };
        T::parse_segment(&raw).map(Segment).ok_or_else(T::not_found)
    }
}

/// Two typed path segments, checked in order.
pub struct Segments<A, B>(pub A, pub B);

impl<A: PathSegment, B: PathSegment, S: Send + Sync> FromRequestParts<S> for Segments<A, B> {
    type Rejection = ServiceError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ServiceError> {
        let Ok(Path((first, second))) = Path::<(String, String)>::from_request_parts(parts, state).await else {
            return Err(A::not_found());
        };
        let first = A::parse_segment(&first).ok_or_else(A::not_found)?;
        let second = B::parse_segment(&second).ok_or_else(B::not_found)?;
        Ok(Segments(first, second))
    }
}

/// Three typed path segments, checked in order.
pub struct Segments3<A, B, C>(pub A, pub B, pub C);

impl<A: PathSegment, B: PathSegment, C: PathSegment, S: Send + Sync> FromRequestParts<S> for Segments3<A, B, C> {
    type Rejection = ServiceError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ServiceError> {
        let Ok(Path((first, second, third))) = Path::<(String, String, String)>::from_request_parts(parts, state).await
        else {
            return Err(A::not_found());
        };
        let first = A::parse_segment(&first).ok_or_else(A::not_found)?;
        let second = B::parse_segment(&second).ok_or_else(B::not_found)?;
        let third = C::parse_segment(&third).ok_or_else(C::not_found)?;
        Ok(Segments3(first, second, third))
    }
}

// ---------------------------------------------------------------------------
// Signed page forms

/// A form a page posts. Its `csrf` field (if it has one) is not its
/// business: [`SignedForm`] checks it.
pub trait PageForm: DeserializeOwned + Send {
    /// What the caller is told when the form cannot be read.
    const UNREADABLE: &'static str = "the form could not be read";
}

impl PageForm for Vec<(String, String)> {}

/// A page's form post whose `csrf` field is this session's form token
/// (required when signed in; anonymous forms rely on the cross-site check
/// alone). The one place the token is checked.
pub struct SignedForm<T>(pub T);

/// Why a form post was turned away before its handler saw it.
pub enum FormRefusal<T> {
    /// Not a form, or the fields do not fit (400 with the form's words).
    Unreadable(PhantomData<T>),
    /// The token is missing or belongs to another session (403 `csrf_failed`).
    Forged,
}

impl<T: PageForm> IntoResponse for FormRefusal<T> {
    fn into_response(self) -> Response {
        match self {
            FormRefusal::Unreadable(_) => ServiceError::invalid(T::UNREADABLE).into_response(),
            FormRefusal::Forged => csrf_failed().into_response(),
        }
    }
}

impl<T: PageForm> FromRequest<AppState> for SignedForm<T> {
    type Rejection = FormRefusal<T>;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, FormRefusal<T>> {
        let (mut parts, body) = request.into_parts();
        let caller = Caller::from_request_parts(&mut parts, state).await.map_err(|_| FormRefusal::Forged)?;
        let request = Request::from_parts(parts, body);
        let unreadable = || FormRefusal::Unreadable(PhantomData);
        let RawForm(bytes) = RawForm::from_request(request, state).await.map_err(|_| unreadable())?;
        let form: T = serde_urlencoded::from_bytes(&bytes).map_err(|_| unreadable())?;
        let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes).map_err(|_| unreadable())?;
        let token = fields.iter().find(|(key, _)| key == "csrf").map(|(_, value)| value.as_str());
        if !form_token_ok(state, &caller, token) {
            return Err(FormRefusal::Forged);
        }
        Ok(SignedForm(form))
    }
}

/// A page's multipart form post (the no-JavaScript upload) whose first
/// part is `csrf`, this session's form token, checked before any other part
/// (a large file behind a forged token is never read). Anonymous posts
/// pass, as with [`SignedForm`]; the handler sends them to sign in.
pub struct SignedMultipart(pub Multipart);

/// Why a multipart form post was turned away before its handler saw it.
pub enum MultipartRefusal {
    /// Not a multipart body (the page shows the form again with a hint).
    NotMultipart,
    /// The first part is not this session's token (403 `csrf_failed`).
    Forged,
}

impl IntoResponse for MultipartRefusal {
    fn into_response(self) -> Response {
        match self {
            MultipartRefusal::NotMultipart => {
                ServiceError::invalid("send the form as multipart/form-data").into_response()
            }
            MultipartRefusal::Forged => csrf_failed().into_response(),
        }
    }
}

/// Longest `csrf` part read (a token is 32 characters).
const MAX_TOKEN_PART_BYTES: usize = 256;

impl FromRequest<AppState> for SignedMultipart {
    type Rejection = MultipartRefusal;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, MultipartRefusal> {
        let (mut parts, body) = request.into_parts();
        let caller = Caller::from_request_parts(&mut parts, state).await.map_err(|_| MultipartRefusal::Forged)?;
        let request = Request::from_parts(parts, body);
        let mut multipart =
            Multipart::from_request(request, state).await.map_err(|_| MultipartRefusal::NotMultipart)?;
        let Some(expected) = form_token(state, &caller) else {
            return Ok(SignedMultipart(multipart));
        };
        let mut field = match multipart.next_field().await {
            Ok(Some(field)) if field.name() == Some("csrf") => field,
            _ => return Err(MultipartRefusal::Forged),
        };
        let mut token = Vec::new();
        while let Ok(Some(chunk)) = field.chunk().await {
            if token.len() + chunk.len() > MAX_TOKEN_PART_BYTES {
                return Err(MultipartRefusal::Forged);
            }
            token.extend_from_slice(&chunk);
        }
        drop(field);
        if !constant_time_eq(&token, expected.as_bytes()) {
            return Err(MultipartRefusal::Forged);
        }
        Ok(SignedMultipart(multipart))
    }
}

/// The form token of a signed-in caller: a keyed hash of their session.
pub fn form_token(state: &AppState, caller: &Caller) -> Option<String> {
    let session = caller.user.as_ref()?;
    let hash = blake3::keyed_hash(&state.form_token_key, &session.token_hash);
    Some(hash.to_hex()[..32].to_owned())
}

/// Whether a form post carries the right token: required when signed in.
fn form_token_ok(state: &AppState, caller: &Caller, submitted: Option<&str>) -> bool {
    match form_token(state, caller) {
        None => true,
        Some(expected) => submitted.is_some_and(|token| constant_time_eq(token.as_bytes(), expected.as_bytes())),
    }
}

/// Compares secrets without stopping at the first difference.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    #[allow(dead_code)]
    struct CastRequest {
        clip_id: u64,
        vote_type: Option<String>,
    }

    fn refusal(body: &str) -> String {
        json_object::<CastRequest>(body.as_bytes()).expect_err(body).message().to_owned()
    }

    #[test]
    fn only_an_object_is_a_body() {
        assert!(json_object::<CastRequest>(br#" {"clipId": 3}"#).is_ok());
        for body in ["[3, \"super\"]", "[3]", "null", "\"3\"", "", "   "] {
            assert_eq!(refusal(body), "the body must be a JSON object", "{body:?}");
        }
    }

    #[test]
    fn invalid_utf8_anywhere_is_refused() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Lenient {
            reason: String,
        }
        let ignored = b"{\"reason\":\"spam\",\"details\":\"link farm\xc3\xc3\"}";
        let error = json_object::<Lenient>(ignored).expect_err("invalid UTF-8 in an ignored field");
        assert_eq!(error.message(), "the body is not valid UTF-8 (byte 37)");
        let error = json_object::<CastRequest>(b"{\"clipId\": 3, \"voteType\": \"\xff\"}").expect_err("in a value");
        assert_eq!(error.message(), "the body is not valid UTF-8 (byte 27)");
        assert!(json_object::<Lenient>("{\"reason\":\"caf\u{e9}\",\"details\":\"\u{1f3ac}\"}".as_bytes()).is_ok());
    }

    #[test]
    fn refusals_are_short_and_name_no_type() {
        let long = "a".repeat(5000);
        let message = refusal(&format!("{{\"{long}\": 1}}"));
        assert!(message.len() < 200, "{message}");
        assert!(message.contains(&"a".repeat(40)) && !message.contains(&"a".repeat(41)), "{message}");
        let message = refusal(r#"{"clipId": {"nested": true}}"#);
        assert!(!message.contains("struct"), "{message}");
        assert_eq!(refusal("{\"clipId\": 3"), "the body is not valid JSON (line 1, column 12)");
        assert_eq!(
            without_type_names("expected struct CastRequest with 2 elements"),
            "expected an object with 2 elements"
        );
        assert_eq!(without_type_names("expected enum VoteType"), "expected one of the allowed values");
        assert_eq!(without_type_names("a struct of"), "a struct of");
    }
}
