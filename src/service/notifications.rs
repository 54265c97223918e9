//! The signed-in user's notifications: pages newest first (with the unread
//! count), opening one (which marks it read), marking read, and the unread
//! badge from memory.

use crate::domain::ids::UserId;
use crate::service::{ServiceError, Services};
use crate::store::social::{MAX_NOTIFICATIONS_PAGE, Notification};
use crate::store::writer::{MAX_MARK_READ_IDS, MarkRead};

/// Notifications per page unless asked otherwise.
pub const DEFAULT_PAGE: usize = 20;

/// One page of notifications.
#[derive(Debug, Clone)]
pub struct Inbox {
    /// Newest first.
    pub notifications: Vec<Notification>,
    /// The `before` of the next page, when there is one.
    pub next_before: Option<u64>,
    /// Unread notifications in all.
    pub unread: u64,
}

/// A page size from a query: 1 to [`MAX_NOTIFICATIONS_PAGE`], default [`DEFAULT_PAGE`].
pub fn page_size(limit: Option<i64>) -> Result<usize, ServiceError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE as i64);
    if !(1..=MAX_NOTIFICATIONS_PAGE as i64).contains(&limit) {
        return Err(ServiceError::invalid(format!("limit must be between 1 and {MAX_NOTIFICATIONS_PAGE}")));
    }
    Ok(limit as usize)
}

/// `user`'s notifications older than `before` (all when `None`), `limit` of them.
pub async fn inbox(
    services: &Services,
    user: UserId,
    before: Option<u64>,
    limit: usize,
) -> Result<Inbox, ServiceError> {
    let (notifications, more, unread) = services
        .read(move |store| {
            let (page, more) = store.notifications(user, before, limit)?;
            Ok((page, more, store.unread_count(user)?))
        })
        .await?;
    let next_before = if more { notifications.last().map(|n| n.id) } else { None };
    Ok(Inbox { notifications, next_before, unread })
}

/// What to mark read, as a client asks for it: some ids, or everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkReadRequest {
    /// These ids (1 to [`MAX_MARK_READ_IDS`], all the user's own).
    Ids(Vec<u64>),
    /// Everything up to now.
    All,
}

/// Marks notifications read and returns the unread count after it.
pub async fn mark_read(services: &Services, user: UserId, which: MarkReadRequest) -> Result<u64, ServiceError> {
    let which = match which {
        MarkReadRequest::Ids(ids) if ids.is_empty() || ids.len() > MAX_MARK_READ_IDS => {
            return Err(ServiceError::invalid(format!("ids must name 1 to {MAX_MARK_READ_IDS} notifications")));
        }
        MarkReadRequest::Ids(ids) => MarkRead::Ids(ids),
        MarkReadRequest::All => MarkRead::All,
    };
    services.writer.mark_notifications_read(user, which).await?;
    services.read(move |store| store.unread_count(user)).await
}

/// Opens one of `user`'s notifications: marks it read if it was not, and
/// returns it (to send the reader where it points). Someone else's or an
/// unknown id is `not_found`.
pub async fn open(services: &Services, user: UserId, id: u64) -> Result<Notification, ServiceError> {
    let notification = services
        .read(move |store| store.notification(user, id))
        .await?
        .ok_or_else(|| ServiceError::not_found("no such notification"))?;
    if !notification.read {
        services.writer.mark_notifications_read(user, MarkRead::Ids(vec![id])).await?;
    }
    Ok(notification)
}

/// Unread notifications of `user`, from memory (no storage read).
pub fn unread_count(services: &Services, user: UserId) -> u64 {
    services.unread.count(user)
}
