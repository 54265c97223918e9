//! Middleware every route group is built from (see `http::router` for which
//! group gets which): each group's guard (its rate limit, cross-site
//! refusal and session renewal as one layer), request metrics, security headers, request ids, the request log, the
//! JSON shape of every `/api/` error and the shared-cache headers of what
//! anonymous visitors all see alike.

pub mod api_errors;
pub mod cross_site;
pub mod guard;
pub mod headers;
pub mod metrics;
pub mod public_cache;
pub mod rate_limit;
pub mod request_id;
pub mod session;
pub mod trace;
