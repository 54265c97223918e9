//! The demo season: four short clips compiled into the binary, written into
//! the media root under their content addresses and seeded (once) as an
//! active season, so `serve --demo` shows a working vote arena at once.

use bytes::Bytes;

use crate::media::{MediaKind, MediaLibrary};
use crate::store::writer::{DemoSeed, SeedClip, WriterHandle};

/// How the demo season is set up.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Number of slots in the demo film.
    pub total_slots: u32,
    /// Voting window of each slot.
    pub slot_duration_secs: u64,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions { total_slots: 75, slot_duration_secs: 24 * 60 * 60 }
    }
}

struct DemoClip {
    title: &'static str,
    description: &'static str,
    genre: &'static str,
    creator: usize,
    video: &'static [u8],
    poster: &'static [u8],
}

const CREATORS: [&str; 3] = ["mira_frames", "tomas_k", "lumen"];

const CLIPS: [DemoClip; 4] = [
    DemoClip {
        title: "Dawn over the dunes",
        description: "The first light finds the caravan's tracks.",
        genre: "sci-fi",
        creator: 0,
        video: include_bytes!("../data/demo/clip1.mp4"),
        poster: include_bytes!("../data/demo/clip1.jpg"),
    },
    DemoClip {
        title: "The signal",
        description: "A pulse from under the sand, once every eight seconds.",
        genre: "sci-fi",
        creator: 1,
        video: include_bytes!("../data/demo/clip2.mp4"),
        poster: include_bytes!("../data/demo/clip2.jpg"),
    },
    DemoClip {
        title: "Night market",
        description: "Lanterns, rumours, and someone who knows the frequency.",
        genre: "sci-fi",
        creator: 2,
        video: include_bytes!("../data/demo/clip3.mp4"),
        poster: include_bytes!("../data/demo/clip3.jpg"),
    },
    DemoClip {
        title: "Into the static",
        description: "The map dissolves; the signal gets louder.",
        genre: "sci-fi",
        creator: 0,
        video: include_bytes!("../data/demo/clip4.mp4"),
        poster: include_bytes!("../data/demo/clip4.jpg"),
    },
];

/// Writes the demo media and seeds the season. `Ok(false)` when it was
/// seeded before (or another season is active): running twice seeds once.
pub async fn seed(media: &MediaLibrary, writer: &WriterHandle, options: &DemoOptions) -> Result<bool, String> {
    let mut clips = Vec::with_capacity(CLIPS.len());
    for clip in &CLIPS {
        let video = media
            .store(Bytes::from_static(clip.video), MediaKind::Mp4)
            .await
            .map_err(|e| format!("writing demo video: {e}"))?;
        let poster = media
            .store(Bytes::from_static(clip.poster), MediaKind::Jpeg)
            .await
            .map_err(|e| format!("writing demo poster: {e}"))?;
        clips.push(SeedClip {
            title: clip.title.to_owned(),
            description: clip.description.to_owned(),
            genre: clip.genre.to_owned(),
            creator: clip.creator,
            video_path: video.relative_path(),
            poster_path: poster.relative_path(),
            duration_ms: 8_000,
        });
    }
    let seed = DemoSeed {
        title: "The Signal".to_owned(),
        genre: "sci-fi".to_owned(),
        description:
            "A desert caravan follows a signal nobody else can hear. Made by everyone, eight seconds at a time."
                .to_owned(),
        total_slots: options.total_slots,
        slot_duration_secs: options.slot_duration_secs,
        creators: CREATORS.iter().map(|name| (*name).to_owned()).collect(),
        clips,
    };
    writer.seed_demo(seed).await.map_err(|error| error.to_string())
}
