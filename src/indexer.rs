//! Keeps the search index in step with committed clips. The writer hands
//! every committed clip change to a queue; one indexer thread applies them
//! and commits about once a second (never per request), storing the clip
//! change sequence it has reached in the commit payload. At start, an index
//! that is missing, corrupt or behind that sequence is rebuilt from redb —
//! the index is derived data and is never backed up.

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::domain::model::Clip;
use crate::domain::tournament::ClipStatus;
use crate::search::{SearchDoc, SearchError, SearchIndex};
use crate::store::Store;

/// How often pending changes are committed.
pub const COMMIT_EVERY: Duration = Duration::from_secs(1);

enum Message {
    Clips(Vec<Clip>, u64),
    Stop,
}

/// Sends committed clip changes to the indexer thread.
#[derive(Clone)]
pub struct IndexFeed {
    sender: Sender<Message>,
}

impl IndexFeed {
    /// Queues clips changed by a committed batch (non-blocking).
    pub fn clips_changed(&self, clips: &[Clip], sequence: u64) {
        let _ = self.sender.send(Message::Clips(clips.to_vec(), sequence));
    }
}

/// Owns the indexer thread.
pub struct Indexer {
    sender: Sender<Message>,
    join: Option<JoinHandle<()>>,
}

impl Indexer {
    /// Commits what is pending and stops the thread.
    pub fn stop(mut self) {
        let _ = self.sender.send(Message::Stop);
        if let Some(join) = self.join.take() {
            let _ = join.join();
        }
    }
}

/// What the index stores about a clip.
pub fn search_doc(clip: &Clip) -> SearchDoc {
    SearchDoc {
        clip_id: clip.id.get(),
        title: clip.title.clone(),
        description: clip.description.clone(),
        creator: clip.creator_username.clone(),
        genre: clip.genre.clone(),
        created_at_millis: clip.created_at.millis(),
    }
}

/// Only approved clips are findable.
fn is_searchable(clip: &Clip) -> bool {
    matches!(clip.status, ClipStatus::Active | ClipStatus::Locked)
}

/// Empties the index and adds every approved clip again; returns how many.
pub fn rebuild(index: &SearchIndex, store: &Store, mut progress: impl FnMut(u64)) -> Result<u64, String> {
    let sequence = store.clip_change_sequence().map_err(|e| e.to_string())?;
    index.clear().map_err(|e| e.to_string())?;
    let mut failure = None;
    let count = store
        .approved_clips(|clip| {
            if failure.is_none()
                && let Err(error) = index.upsert(&search_doc(&clip))
            {
                failure = Some(error.to_string());
            }
            progress(1);
        })
        .map_err(|e| e.to_string())?;
    if let Some(error) = failure {
        return Err(error);
    }
    index.commit(sequence).map_err(|e| e.to_string())?;
    Ok(count)
}

/// Opens the index (rebuilding it when missing, corrupt or behind) and
/// starts the indexer thread.
pub fn start(dir: &Path, store: &Store) -> Result<(Arc<SearchIndex>, IndexFeed, Indexer), String> {
    let (index, recreated) = SearchIndex::open_or_recreate(dir).map_err(|e| match e {
        SearchError::Locked => "the search index is in use by another aimoviez process".to_owned(),
        other => other.to_string(),
    })?;
    let sequence = store.clip_change_sequence().map_err(|e| e.to_string())?;
    if recreated || index.committed_position() != sequence {
        let started = Instant::now();
        let count = rebuild(&index, store, |_| {})?;
        tracing::info!(
            clips = count,
            duration_ms = started.elapsed().as_millis() as u64,
            recreated,
            "search index rebuilt"
        );
    }
    let index = Arc::new(index);
    let (sender, receiver) = channel();
    let worker = index.clone();
    let join = std::thread::Builder::new()
        .name("aimoviez-indexer".into())
        .spawn(move || run(&worker, receiver))
        .map_err(|e| e.to_string())?;
    Ok((index, IndexFeed { sender: sender.clone() }, Indexer { sender, join: Some(join) }))
}

fn run(index: &SearchIndex, receiver: Receiver<Message>) {
    let mut pending: Option<u64> = None;
    let mut last_commit = Instant::now();
    loop {
        let message = receiver.recv_timeout(COMMIT_EVERY);
        let stop = matches!(message, Ok(Message::Stop) | Err(RecvTimeoutError::Disconnected));
        if let Ok(Message::Clips(clips, sequence)) = message {
            for clip in &clips {
                let applied =
                    if is_searchable(clip) { index.upsert(&search_doc(clip)) } else { index.remove(clip.id.get()) };
                if let Err(error) = applied {
                    tracing::error!(error = %error, clip.id = %clip.id, "cannot index clip");
                }
            }
            pending = Some(sequence);
        }
        if let Some(sequence) = pending
            && (stop || last_commit.elapsed() >= COMMIT_EVERY)
        {
            match index.commit(sequence) {
                Ok(()) => pending = None,
                Err(error) => tracing::error!(error = %error, "search index commit failed; will retry"),
            }
            last_commit = Instant::now();
        }
        if stop {
            break;
        }
    }
}
