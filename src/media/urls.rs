//! Where clients fetch a media file from: the origin's own `/media/{name}`,
//! or `{base_url}/media/{name}` when `[media] base_url` names a CDN pull
//! zone (or any cache) whose origin is this server.
//!
//! Only files of public clips (active or locked) go through the base URL: a
//! CDN fetches without the viewer's cookie, so the files of a pending or
//! rejected clip, which the origin shows only to their creator and admins,
//! keep their origin URL. The origin's `/media/` keeps serving every file
//! either way.

use crate::domain::model::Clip;
use crate::domain::tournament::ClipStatus;

/// The URLs of media files under one configuration. Borrowed from the
/// config, so making one costs nothing.
#[derive(Debug, Clone, Copy)]
pub struct MediaUrls<'a> {
    /// `media.base_url` without a trailing `/` ("" when not set).
    base: &'a str,
}

impl<'a> MediaUrls<'a> {
    /// URLs under `base_url` ("" = the origin's own, relative to the site).
    pub fn new(base_url: &'a str) -> MediaUrls<'a> {
        MediaUrls { base: base_url.trim_end_matches('/') }
    }

    /// The URL of a file that anyone may fetch (`name` is a media name,
    /// `ab/ab…ef.mp4`).
    pub fn public(&self, name: &str) -> String {
        format!("{}/media/{name}", self.base)
    }

    /// The origin's URL of a file, relative to the site: for files only
    /// some people may fetch.
    pub fn origin(name: &str) -> String {
        format!("/media/{name}")
    }

    /// `clip`'s video and poster URLs: through the base URL while the clip
    /// is public, from the origin otherwise.
    pub fn clip(&self, clip: &Clip) -> (String, String) {
        if matches!(clip.status, ClipStatus::Active | ClipStatus::Locked) {
            (self.public(&clip.video_path), self.public(&clip.poster_path))
        } else {
            (MediaUrls::origin(&clip.video_path), MediaUrls::origin(&clip.poster_path))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_files_go_through_the_base_url_and_private_ones_stay_on_the_origin() {
        let cdn = MediaUrls::new("https://cdn.example.net/");
        assert_eq!(cdn.public("ab/cd.mp4"), "https://cdn.example.net/media/ab/cd.mp4");
        assert_eq!(MediaUrls::new("").public("ab/cd.mp4"), "/media/ab/cd.mp4");
        assert_eq!(MediaUrls::origin("ab/cd.jpg"), "/media/ab/cd.jpg");
    }
}
