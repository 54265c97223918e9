//! Everything HTTP: the only module that names axum, hyper, tower,
//! tower-http or askama. Handlers parse a request, call a service and render
//! the answer; the rules live below, in `service`, the writer and `domain`.

pub mod api;
pub mod media;
pub mod metrics;
pub mod middleware;
pub mod pages;
pub mod router;
pub mod state;
