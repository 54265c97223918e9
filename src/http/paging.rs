//! `?limit=&offset=` as the API reads it; the bounds themselves (limit 1 to
//! 100, default 20, offset not negative) are `service::Page`'s.

use serde::Deserialize;
use utoipa::IntoParams;

use crate::service::{Page, ServiceError};

/// `?limit=&offset=` of the admin lists.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1 to 100 (default 20).
    pub limit: Option<i64>,
    /// Items to skip (default 0).
    pub offset: Option<i64>,
    /// Username prefix (only `GET /api/admin/users` filters by it).
    pub q: Option<String>,
}

impl PageQuery {
    /// The checked page.
    pub fn page(&self) -> Result<Page, ServiceError> {
        Page::new(self.limit, self.offset)
    }
}
