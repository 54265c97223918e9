//! Clip search: the tantivy index finds approved clips by words (prefix and
//! typo tolerant) or genre, then their current records are read by id. The
//! index checks the query's bounds (limit, offset, length).

use crate::domain::ids::ClipId;
use crate::service::{Page, ServiceError, Services};
use crate::store::CountedClip;

/// A page of search results.
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// The clips, most relevant (or, without words, newest) first.
    pub clips: Vec<CountedClip>,
    /// Whether another page follows.
    pub has_more: bool,
}

/// Searches approved clips for `query`, optionally of one `genre` (an empty
/// genre means any).
pub async fn search(services: &Services, query: &str, genre: Option<&str>, page: Page) -> Result<Found, ServiceError> {
    let index = services.search.clone();
    let (query, genre) = (query.to_owned(), genre.map(str::trim).filter(|g| !g.is_empty()).map(str::to_owned));
    let hits =
        tokio::task::spawn_blocking(move || index.search(&query, genre.as_deref(), page.limit, page.offset)).await??;
    let ids: Vec<ClipId> = hits.hits.iter().filter_map(|hit| ClipId::new(hit.clip_id)).collect();
    let clips = services
        .read(move |store| {
            let mut found = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(clip) = store.clip(id)? {
                    found.push(clip);
                }
            }
            Ok(found)
        })
        .await?;
    Ok(Found { clips, has_more: hits.has_more })
}
