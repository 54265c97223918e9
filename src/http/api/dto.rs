//! Wire types: what the JSON API sends, in camelCase, converted explicitly
//! from domain and read-model types.

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::domain::ids::ClipId;
use crate::domain::vote::RemainingVotes;
use crate::media::urls::MediaUrls;
use crate::service::Services;
use crate::store::CountedClip;

/// A clip as every JSON response shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClipDto {
    pub id: u64,
    pub title: String,
    pub description: String,
    pub genre: String,
    pub creator: CreatorDto,
    pub video_url: String,
    pub poster_url: String,
    pub duration_ms: u32,
    /// `pending`, `active`, `locked` (a slot winner) or `rejected`.
    pub status: &'static str,
    pub slot_position: u32,
    pub vote_count: u64,
    pub weighted_score: u64,
    pub view_count: u64,
    /// RFC 3339.
    pub created_at: String,
}

/// Where this server's clients fetch media from (`[media] base_url`).
pub fn media_urls(services: &Services) -> MediaUrls<'_> {
    MediaUrls::new(&services.config.media.base_url)
}

/// A clip's creator.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatorDto {
    pub id: u64,
    pub username: String,
}

impl ClipDto {
    /// The wire form of `counted`, its media under `urls`.
    pub fn new(counted: &CountedClip, urls: MediaUrls<'_>) -> Self {
        let clip = &counted.clip;
        let (video_url, poster_url) = urls.clip(clip);
        ClipDto {
            id: clip.id.get(),
            title: clip.title.clone(),
            description: clip.description.clone(),
            genre: clip.genre.clone(),
            creator: CreatorDto { id: clip.creator.get(), username: clip.creator_username.clone() },
            video_url,
            poster_url,
            duration_ms: clip.duration_ms,
            status: clip.status.as_str(),
            slot_position: clip.slot_position.get(),
            vote_count: counted.counter.vote_count,
            weighted_score: counted.counter.weighted_score,
            view_count: counted.view_count,
            created_at: clip.created_at.to_rfc3339(),
        }
    }
}

/// `remainingVotes`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RemainingVotesDto {
    pub standard: u32,
    #[serde(rename = "super")]
    pub super_votes: u32,
    pub mega: u32,
}

impl From<RemainingVotes> for RemainingVotesDto {
    fn from(left: RemainingVotes) -> Self {
        RemainingVotesDto { standard: left.standard, super_votes: left.super_votes, mega: left.mega_votes }
    }
}

/// A user named in a response: a comment's author, a report's reporter.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserRef {
    pub id: u64,
    pub username: String,
}

/// `{"success": true}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SuccessDto {
    pub success: bool,
}

/// Accepts a clip id as a JSON number or a decimal string, since clients of
/// the original service sent string ids.
pub fn clip_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<ClipId, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(u64),
        Text(String),
    }
    let parsed = match Raw::deserialize(deserializer)? {
        Raw::Number(number) => ClipId::new(number),
        Raw::Text(text) => text.parse().ok(),
    };
    parsed.ok_or_else(|| serde::de::Error::custom("clipId must be a positive integer"))
}
