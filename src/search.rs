//! Clip search: a tantivy index over the title, description, creator name and
//! genre of approved clips (the caller only indexes active or locked clips).
//!
//! Design:
//! - **Derived data.** The index is rebuilt from redb, never backed up. The
//!   commit payload carries the last applied position (e.g. the last event
//!   sequence number folded in), so after a restart the indexer resumes from
//!   [`SearchIndex::committed_position`]. If the directory holds a corrupt or
//!   incompatible index, [`SearchIndex::open`] returns [`SearchError::Corrupt`]
//!   and [`SearchIndex::open_or_recreate`] wipes the directory and starts empty
//!   (the caller then reindexes from redb).
//! - **One writer per index.** tantivy allows a single `IndexWriter` per
//!   directory (it holds a lock file); [`SearchIndex`] owns it behind a mutex,
//!   with a 15 MB memory budget and one indexing thread. Only one process may
//!   own the directory: `reindex` goes through the running server or runs
//!   offline.
//! - **Commits are the caller's cadence.** [`SearchIndex::upsert`],
//!   [`SearchIndex::remove`] and [`SearchIndex::clear`] are invisible until
//!   [`SearchIndex::commit`], which the app calls every second or so from its
//!   background indexer task, never per request. A commit reloads the reader
//!   so the change is visible at once (an admin sees it immediately).
//! - **Blocking.** Every method does disk I/O or CPU-bound work and blocks:
//!   call them from `spawn_blocking` or a dedicated thread, never directly on
//!   an async worker.
//!
//! Matching (see [`SearchIndex::search`]): user input is never parsed as
//! tantivy query syntax; it is run through the same analyzer as the indexed
//! text (simple tokenizer, lowercasing, ASCII folding) and every resulting
//! word must match (AND) in at least one of the text fields. Each word
//! matches exactly (BM25-scored) or loosely (constant score, half the field
//! weight): words of 5 or more characters tolerate one typo (Levenshtein
//! distance 1, a transposition counting as one edit) and the last word also
//! matches as a prefix, for type-ahead. Both are `FuzzyTermQuery`s
//! (`new_prefix` for the last word, distance 0 when it is short), which walk
//! the term dictionary with a Levenshtein automaton. Field weights: title ×3,
//! creator ×2, description and genre ×1.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use tantivy::collector::TopDocs;
use tantivy::collector::sort_key::SortByStaticFastValue;
use tantivy::directory::MmapDirectory;
use tantivy::directory::error::OpenReadError;
use tantivy::query::{AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, Query, TermQuery};
use tantivy::schema::{FAST, Field, INDEXED, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions};
use tantivy::tokenizer::{AsciiFoldingFilter, LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer};
use tantivy::{
    DocAddress, Index, IndexReader, IndexWriter, Order, ReloadPolicy, Searcher, TantivyDocument, TantivyError, Term,
};

/// Largest accepted page size.
pub const MAX_LIMIT: usize = 100;
/// Largest accepted offset (deep pagination is not a use case).
pub const MAX_OFFSET: usize = 10_000;
/// Longest accepted query, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// Most words (analyzer tokens) accepted in a query.
pub const MAX_QUERY_WORDS: usize = 10;

/// Words at least this long (in characters) tolerate one typo.
const TYPO_MIN_CHARS: usize = 5;
/// Writer memory budget, the minimum tantivy accepts for one thread.
const WRITER_MEMORY_BUDGET: usize = 15_000_000;
/// Name under which the text analyzer is registered.
const ANALYZER: &str = "aimoviez_folded";
/// Tokens longer than this (in bytes) are dropped (URLs, base64 blobs).
const MAX_TOKEN_BYTES: usize = 64;
/// Prefix of the commit payload. Bump the version whenever the schema or the
/// analyzer changes so that indexes written by older builds are rebuilt.
const PAYLOAD_PREFIX: &str = "aimoviez-search/1 position=";
/// Weight of a loose (prefix or typo) match relative to the field weight.
const LOOSE_FACTOR: f32 = 0.5;

const F_CLIP_ID: &str = "clip_id";
const F_TITLE: &str = "title";
const F_DESCRIPTION: &str = "description";
const F_CREATOR: &str = "creator";
const F_GENRE: &str = "genre";
const F_GENRE_KEY: &str = "genre_key";
const F_CREATED_AT: &str = "created_at";

/// What is indexed about a clip. Only approved clips (active or locked) are
/// indexed by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchDoc {
    /// The clip's id.
    pub clip_id: u64,
    /// Title given by the creator.
    pub title: String,
    /// Description given by the creator.
    pub description: String,
    /// The creator's display name.
    pub creator: String,
    /// Genre tag.
    pub genre: String,
    /// Upload time, milliseconds since the Unix epoch (orders browse results).
    pub created_at_millis: i64,
}

/// One search result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchHit {
    /// The matching clip.
    pub clip_id: u64,
    /// Relevance (higher is better); 0 when browsing newest clips.
    pub score: f32,
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SearchPage {
    /// The hits, best (or newest) first.
    pub hits: Vec<SearchHit>,
    /// Whether another page follows.
    pub has_more: bool,
}

/// Errors from the search index.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// tantivy failed (I/O, a failed commit, a thread panic).
    #[error("search index error: {0}")]
    Tantivy(#[from] TantivyError),
    /// A filesystem operation on the index directory failed.
    #[error("search index I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The directory holds a corrupt index or one written by an incompatible
    /// build; wipe it and rebuild (see [`SearchIndex::open_or_recreate`]).
    #[error("the search index is corrupt or incompatible: {0}")]
    Corrupt(String),
    /// Another writer (another process) holds the index directory.
    #[error("the search index is locked by another writer")]
    Locked,
    /// The request is invalid (limit, offset or query out of bounds).
    #[error("invalid search: {0}")]
    Invalid(String),
}

/// Field handles of the schema.
#[derive(Debug, Clone, Copy)]
struct Fields {
    clip_id: Field,
    title: Field,
    description: Field,
    creator: Field,
    genre: Field,
    genre_key: Field,
    created_at: Field,
}

impl Fields {
    /// Searchable text fields with their weights.
    fn weighted_text(&self) -> [(Field, f32); 4] {
        [(self.title, 3.0), (self.creator, 2.0), (self.description, 1.0), (self.genre, 1.0)]
    }
}

/// The writer and whether it holds uncommitted changes.
struct WriterState {
    writer: IndexWriter<TantivyDocument>,
    dirty: bool,
}

/// The clip search index: one tantivy index in one directory, with its only
/// writer and a manually reloaded reader. All methods block.
pub struct SearchIndex {
    fields: Fields,
    reader: IndexReader,
    writer: Mutex<WriterState>,
    position: AtomicU64,
}

impl SearchIndex {
    /// Opens or creates the index in `dir` (created if missing). Returns
    /// [`SearchError::Corrupt`] if the directory holds a corrupt index or one
    /// with another schema or format version, so the caller can wipe and
    /// rebuild, and [`SearchError::Locked`] if another writer holds it.
    pub fn open(dir: &Path) -> Result<SearchIndex, SearchError> {
        std::fs::create_dir_all(dir)?;
        let (schema, fields) = build_schema();
        let directory = MmapDirectory::open(dir).map_err(|error| SearchError::Tantivy(error.into()))?;
        let index = Index::builder().schema(schema).open_or_create(directory).map_err(classify)?;
        index.tokenizers().register(ANALYZER, text_analyzer());
        let metas = index.load_metas().map_err(classify)?;
        let position = parse_payload(metas.payload.as_deref())?;
        let writer = index.writer_with_num_threads(1, WRITER_MEMORY_BUDGET).map_err(classify)?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into().map_err(classify)?;
        Ok(SearchIndex {
            fields,
            reader,
            writer: Mutex::new(WriterState { writer, dirty: false }),
            position: AtomicU64::new(position),
        })
    }

    /// Opens the index in `dir`; if it is corrupt or incompatible, removes
    /// everything in `dir` and creates an empty index. The flag is `true` when
    /// the index was recreated (the caller must then reindex from redb).
    pub fn open_or_recreate(dir: &Path) -> Result<(SearchIndex, bool), SearchError> {
        match SearchIndex::open(dir) {
            Ok(index) => Ok((index, false)),
            Err(SearchError::Corrupt(reason)) => {
                tracing::warn!(
                    dir = %dir.display(),
                    %reason,
                    "search index is corrupt or incompatible; recreating it"
                );
                wipe_dir(dir)?;
                Ok((SearchIndex::open(dir)?, true))
            }
            Err(error) => Err(error),
        }
    }

    /// Adds or replaces a clip (deletes any document with its id, then adds
    /// the new one). Not visible until [`SearchIndex::commit`].
    pub fn upsert(&self, doc: &SearchDoc) -> Result<(), SearchError> {
        let f = &self.fields;
        let mut document = TantivyDocument::default();
        document.add_u64(f.clip_id, doc.clip_id);
        document.add_text(f.title, &doc.title);
        document.add_text(f.description, &doc.description);
        document.add_text(f.creator, &doc.creator);
        document.add_text(f.genre, &doc.genre);
        document.add_text(f.genre_key, normalize_genre(&doc.genre));
        document.add_i64(f.created_at, doc.created_at_millis);

        let mut state = self.writer.lock();
        state.writer.delete_term(Term::from_field_u64(f.clip_id, doc.clip_id));
        state.writer.add_document(document)?;
        state.dirty = true;
        Ok(())
    }

    /// Removes a clip (no-op if it is not indexed). Not visible until
    /// [`SearchIndex::commit`].
    pub fn remove(&self, clip_id: u64) -> Result<(), SearchError> {
        let mut state = self.writer.lock();
        state.writer.delete_term(Term::from_field_u64(self.fields.clip_id, clip_id));
        state.dirty = true;
        Ok(())
    }

    /// Commits pending changes with `position` (e.g. the last applied event
    /// sequence number) stored in the commit payload, and reloads the reader
    /// so the change is visible at once. Does nothing when there are no
    /// pending changes and `position` is already committed.
    pub fn commit(&self, position: u64) -> Result<(), SearchError> {
        let mut state = self.writer.lock();
        if !state.dirty && self.position.load(Ordering::Acquire) == position {
            return Ok(());
        }
        let mut prepared = state.writer.prepare_commit()?;
        prepared.set_payload(&format!("{PAYLOAD_PREFIX}{position}"));
        prepared.commit()?;
        state.dirty = false;
        self.position.store(position, Ordering::Release);
        // Reload under the lock so readers never go back to an older commit.
        self.reader.reload()?;
        Ok(())
    }

    /// The position stored by the last commit (0 for a new index).
    pub fn committed_position(&self) -> u64 {
        self.position.load(Ordering::Acquire)
    }

    /// Removes everything, discarding uncommitted changes too (used by
    /// reindex before re-adding). Like every change, it becomes visible only
    /// at the next [`SearchIndex::commit`], so searches keep seeing the old
    /// content until the rebuilt one is committed.
    pub fn clear(&self) -> Result<(), SearchError> {
        let mut state = self.writer.lock();
        // Roll back first: `delete_all_documents` only drops segments, and
        // documents still in the indexing pipeline would survive it.
        state.writer.rollback()?;
        state.writer.delete_all_documents()?;
        state.dirty = true;
        Ok(())
    }

    /// Searches title, description, creator and genre.
    ///
    /// The query is split into words by the index analyzer (runs of letters
    /// and digits, lowercased, accents folded), never parsed as query syntax.
    /// Every word must match in at least one field; words of 5+ characters
    /// tolerate one typo and the last word also matches as a prefix. Results
    /// are ranked by relevance, title matches weighing ×3, creator ×2,
    /// description and genre ×1. `genre` restricts results to clips of
    /// exactly that genre (case-insensitive; an empty one means no filter).
    /// A query without words returns the newest clips (of the genre, if
    /// given), newest first.
    ///
    /// Returns [`SearchError::Invalid`] unless `limit` is in `1..=100`,
    /// `offset` ≤ 10,000, the query has at most 200 characters and at most
    /// 10 words.
    pub fn search(
        &self,
        query: &str,
        genre: Option<&str>,
        limit: usize,
        offset: usize,
    ) -> Result<SearchPage, SearchError> {
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(SearchError::Invalid(format!("limit must be between 1 and {MAX_LIMIT}")));
        }
        if offset > MAX_OFFSET {
            return Err(SearchError::Invalid(format!("offset must be at most {MAX_OFFSET}")));
        }
        if query.chars().count() > MAX_QUERY_CHARS {
            return Err(SearchError::Invalid(format!("the query must be at most {MAX_QUERY_CHARS} characters")));
        }
        let words = analyze(query);
        if words.len() > MAX_QUERY_WORDS {
            return Err(SearchError::Invalid(format!("the query must have at most {MAX_QUERY_WORDS} words")));
        }
        let genre_filter = genre.map(normalize_genre).filter(|genre| !genre.is_empty()).map(|genre| {
            TermQuery::new(Term::from_field_text(self.fields.genre_key, &genre), IndexRecordOption::Basic)
        });

        let searcher = self.reader.searcher();
        // One extra hit tells whether another page follows.
        let window = TopDocs::with_limit(limit + 1).and_offset(offset);
        let mut hits = if words.is_empty() {
            let query: Box<dyn Query> = match genre_filter {
                Some(filter) => Box::new(filter),
                None => Box::new(AllQuery),
            };
            newest(&searcher, query.as_ref(), window)?
        } else {
            let query = self.words_query(&words, genre_filter);
            let top = searcher.search(&query, &window.order_by_score())?;
            top.into_iter()
                .map(|(score, address)| Ok(SearchHit { clip_id: clip_id_of(&searcher, address)?, score }))
                .collect::<Result<Vec<_>, SearchError>>()?
        };
        let has_more = hits.len() > limit;
        hits.truncate(limit);
        Ok(SearchPage { hits, has_more })
    }

    /// Number of indexed clips visible to searches (as of the last commit).
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Builds the AND-of-words query, with the optional genre filter.
    fn words_query(&self, words: &[String], genre_filter: Option<TermQuery>) -> BooleanQuery {
        let last = words.len().saturating_sub(1);
        let mut clauses: Vec<(Occur, Box<dyn Query>)> =
            words.iter().enumerate().map(|(i, word)| (Occur::Must, self.word_query(word, i == last))).collect();
        if let Some(filter) = genre_filter {
            clauses.push((Occur::Must, Box::new(ConstScoreQuery::new(Box::new(filter), 0.0))));
        }
        BooleanQuery::new(clauses)
    }

    /// One word in any text field: exact (BM25) or loose (prefix for the
    /// last word, one typo for long words; constant score).
    fn word_query(&self, word: &str, is_last: bool) -> Box<dyn Query> {
        let typo_distance = u8::from(word.chars().count() >= TYPO_MIN_CHARS);
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (field, weight) in self.fields.weighted_text() {
            let term = Term::from_field_text(field, word);
            let loose = if is_last {
                Some(FuzzyTermQuery::new_prefix(term.clone(), typo_distance, true))
            } else if typo_distance > 0 {
                Some(FuzzyTermQuery::new(term.clone(), typo_distance, true))
            } else {
                None
            };
            let exact = TermQuery::new(term, IndexRecordOption::WithFreqs);
            clauses.push((Occur::Should, Box::new(BoostQuery::new(Box::new(exact), weight))));
            if let Some(loose) = loose {
                clauses.push((Occur::Should, Box::new(BoostQuery::new(Box::new(loose), weight * LOOSE_FACTOR))));
            }
        }
        Box::new(BooleanQuery::new(clauses))
    }
}

/// Runs `query` and returns its hits newest first (ties: higher id first).
fn newest(searcher: &Searcher, query: &dyn Query, window: TopDocs) -> Result<Vec<SearchHit>, SearchError> {
    let collector = window.order_by((
        (SortByStaticFastValue::<i64>::for_field(F_CREATED_AT), Order::Desc),
        (SortByStaticFastValue::<u64>::for_field(F_CLIP_ID), Order::Desc),
    ));
    searcher
        .search(query, &collector)?
        .into_iter()
        .map(|((_, clip_id), _)| {
            clip_id
                .map(|clip_id| SearchHit { clip_id, score: 0.0 })
                .ok_or_else(|| SearchError::Corrupt("an indexed document has no clip id".into()))
        })
        .collect()
}

/// Reads the clip id of a hit from the fast field.
fn clip_id_of(searcher: &Searcher, address: DocAddress) -> Result<u64, SearchError> {
    searcher
        .segment_reader(address.segment_ord)
        .fast_fields()
        .u64(F_CLIP_ID)?
        .first(address.doc_id)
        .ok_or_else(|| SearchError::Corrupt("an indexed document has no clip id".into()))
}

/// The schema and its field handles.
fn build_schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default().set_tokenizer(ANALYZER).set_index_option(IndexRecordOption::WithFreqs),
    );
    let fields = Fields {
        clip_id: builder.add_u64_field(F_CLIP_ID, INDEXED | FAST),
        title: builder.add_text_field(F_TITLE, text.clone()),
        description: builder.add_text_field(F_DESCRIPTION, text.clone()),
        creator: builder.add_text_field(F_CREATOR, text.clone()),
        genre: builder.add_text_field(F_GENRE, text),
        genre_key: builder.add_text_field(F_GENRE_KEY, STRING),
        created_at: builder.add_i64_field(F_CREATED_AT, FAST),
    };
    (builder.build(), fields)
}

/// The analyzer of the text fields, also used to split queries into words.
fn text_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// Splits `text` into the words the index knows.
fn analyze(text: &str) -> Vec<String> {
    let mut analyzer = text_analyzer();
    let mut stream = analyzer.token_stream(text);
    let mut words = Vec::new();
    while stream.advance() {
        words.push(stream.token().text.clone());
    }
    words
}

/// The exact-match key of a genre: trimmed and lowercased.
fn normalize_genre(genre: &str) -> String {
    genre.trim().to_lowercase()
}

/// Reads the position from a commit payload (none: a new index).
fn parse_payload(payload: Option<&str>) -> Result<u64, SearchError> {
    let Some(payload) = payload else {
        return Ok(0);
    };
    payload
        .strip_prefix(PAYLOAD_PREFIX)
        .and_then(|position| position.parse().ok())
        .ok_or_else(|| SearchError::Corrupt(format!("unknown commit payload {payload:?} (older format?)")))
}

/// Maps errors met while opening an index: corruption and incompatibility
/// become [`SearchError::Corrupt`], a held lock [`SearchError::Locked`].
fn classify(error: TantivyError) -> SearchError {
    use std::io::ErrorKind;
    match &error {
        TantivyError::DataCorruption(_)
        | TantivyError::IncompatibleIndex(_)
        | TantivyError::SchemaError(_)
        | TantivyError::FieldNotFound(_)
        | TantivyError::DeserializeError(_)
        | TantivyError::MissingPlugin(_)
        | TantivyError::UnexpectedPlugin(_)
        | TantivyError::OpenReadError(OpenReadError::FileDoesNotExist(_) | OpenReadError::IncompatibleIndex(_)) => {
            SearchError::Corrupt(error.to_string())
        }
        TantivyError::IoError(io) if matches!(io.kind(), ErrorKind::InvalidData | ErrorKind::UnexpectedEof) => {
            SearchError::Corrupt(error.to_string())
        }
        TantivyError::LockFailure(..) => SearchError::Locked,
        _ => SearchError::Tantivy(error),
    }
}

/// Removes everything inside `dir` (not `dir` itself).
fn wipe_dir(dir: &Path) -> Result<(), SearchError> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(entry.path())?;
        } else {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn doc(clip_id: u64, title: &str, description: &str, creator: &str, genre: &str) -> SearchDoc {
        SearchDoc {
            clip_id,
            title: title.into(),
            description: description.into(),
            creator: creator.into(),
            genre: genre.into(),
            created_at_millis: 1_700_000_000_000 + clip_id as i64,
        }
    }

    fn ids(page: &SearchPage) -> Vec<u64> {
        page.hits.iter().map(|hit| hit.clip_id).collect()
    }

    fn sample() -> (tempfile::TempDir, SearchIndex) {
        let dir = tempfile::tempdir().unwrap();
        let index = SearchIndex::open(dir.path()).unwrap();
        for d in [
            doc(1, "Signal in the storm", "A lighthouse keeper waits", "ada", "Drama"),
            doc(2, "Night train", "Smoke and signal lamps", "bob", "Thriller"),
            doc(3, "Café au lait", "Morning in Paris", "Chloé", "Comedy"),
            doc(4, "Robot dance", "Metal feet on the floor", "dmitri", "Sci-Fi"),
        ] {
            index.upsert(&d).unwrap();
        }
        index.commit(4).unwrap();
        (dir, index)
    }

    fn find(index: &SearchIndex, query: &str) -> Vec<u64> {
        ids(&index.search(query, None, 10, 0).unwrap())
    }

    #[test]
    fn finds_by_each_field() {
        let (_dir, index) = sample();
        assert_eq!(index.num_docs(), 4);
        assert_eq!(find(&index, "storm"), vec![1]);
        assert_eq!(find(&index, "lighthouse"), vec![1]);
        assert_eq!(find(&index, "dmitri"), vec![4]);
        assert_eq!(find(&index, "thriller"), vec![2]);
        let page = index.search("", Some("comedy"), 10, 0).unwrap();
        assert_eq!(ids(&page), vec![3]);
        let page = index.search("signal", Some("Thriller"), 10, 0).unwrap();
        assert_eq!(ids(&page), vec![2]);
        let page = index.search("robot", Some("Drama"), 10, 0).unwrap();
        assert!(page.hits.is_empty());
    }

    #[test]
    fn prefix_typo_and_diacritics() {
        let (_dir, index) = sample();
        let mut prefix = find(&index, "sig");
        prefix.sort_unstable();
        assert_eq!(prefix, vec![1, 2]);
        assert!(find(&index, "signl").contains(&1));
        assert!(find(&index, "sgnal").contains(&1));
        // Typo tolerance also applies to words that are not last.
        assert_eq!(find(&index, "lighthose keeper"), vec![1]);
        // Short words need to be exact unless they are last.
        assert!(find(&index, "robt dance").is_empty());
        assert_eq!(find(&index, "cafe"), vec![3]);
        assert_eq!(find(&index, "CHLOE"), vec![3]);
        assert_eq!(find(&index, "café"), vec![3]);
    }

    #[test]
    fn every_word_must_match() {
        let (_dir, index) = sample();
        assert_eq!(find(&index, "signal storm"), vec![1]);
        assert_eq!(find(&index, "signal lamps"), vec![2]);
        assert!(find(&index, "robot storm").is_empty());
    }

    #[test]
    fn title_ranks_above_description() {
        let (_dir, index) = sample();
        let page = index.search("signal", None, 10, 0).unwrap();
        assert_eq!(ids(&page), vec![1, 2]);
        assert!(page.hits[0].score > page.hits[1].score);
    }

    #[test]
    fn remove_and_replace() {
        let (_dir, index) = sample();
        index.remove(1).unwrap();
        // Not visible before the commit.
        assert_eq!(find(&index, "storm"), vec![1]);
        index.commit(5).unwrap();
        assert!(find(&index, "storm").is_empty());
        assert_eq!(index.num_docs(), 3);

        index.upsert(&doc(2, "Night train", "old", "bob", "Thriller")).unwrap();
        index.upsert(&doc(2, "Night train redux", "new", "bob", "Thriller")).unwrap();
        index.commit(6).unwrap();
        assert_eq!(find(&index, "train"), vec![2]);
        assert_eq!(find(&index, "redux"), vec![2]);
        assert!(find(&index, "lamps").is_empty());
        assert_eq!(index.num_docs(), 3);
    }

    #[test]
    fn clear_removes_everything_at_commit() {
        let (_dir, index) = sample();
        index.upsert(&doc(9, "Pending", "", "x", "Drama")).unwrap();
        index.clear().unwrap();
        assert_eq!(index.num_docs(), 4);
        index.upsert(&doc(7, "Fresh start", "", "x", "Drama")).unwrap();
        index.commit(10).unwrap();
        assert_eq!(index.num_docs(), 1);
        assert_eq!(find(&index, "fresh"), vec![7]);
        assert!(find(&index, "pending").is_empty());
    }

    #[test]
    fn pagination() {
        let dir = tempfile::tempdir().unwrap();
        let index = SearchIndex::open(dir.path()).unwrap();
        for id in 1..=25 {
            index.upsert(&doc(id, &format!("Ocean take {id}"), "", "eve", "Drama")).unwrap();
        }
        index.commit(25).unwrap();

        let last = index.search("ocean", None, 10, 20).unwrap();
        assert_eq!(last.hits.len(), 5);
        assert!(!last.has_more);
        let middle = index.search("ocean", None, 10, 10).unwrap();
        assert_eq!(middle.hits.len(), 10);
        assert!(middle.has_more);

        let mut seen: Vec<u64> =
            [0, 10, 20].into_iter().flat_map(|offset| ids(&index.search("ocean", None, 10, offset).unwrap())).collect();
        seen.sort_unstable();
        assert_eq!(seen, (1..=25).collect::<Vec<_>>());

        // Browsing: newest first.
        let newest = index.search("  ", None, 10, 0).unwrap();
        assert_eq!(ids(&newest), (16..=25).rev().collect::<Vec<_>>());
        assert!(newest.has_more);
        let tail = index.search("", Some("drama"), 10, 20).unwrap();
        assert_eq!(ids(&tail), vec![5, 4, 3, 2, 1]);
        assert!(!tail.has_more);
    }

    #[test]
    fn rejects_invalid_requests() {
        let (_dir, index) = sample();
        let invalid = |result: Result<SearchPage, SearchError>| matches!(result, Err(SearchError::Invalid(_)));
        assert!(invalid(index.search("x", None, 0, 0)));
        assert!(invalid(index.search("x", None, 101, 0)));
        assert!(invalid(index.search("x", None, 10, 10_001)));
        assert!(invalid(index.search(&"a".repeat(201), None, 10, 0)));
        assert!(invalid(index.search("a b c d e f g h i j k", None, 10, 0)));
        assert!(index.search("x", None, 100, 10_000).is_ok());
        assert!(index.search("a b c d e f g h i j", None, 10, 0).is_ok());
    }

    #[test]
    fn hostile_input_is_plain_words() {
        let (_dir, index) = sample();
        let page = index.search(r#"title:"x" OR *:* AND ("#, None, 10, 0).unwrap();
        assert!(page.hits.is_empty());
        assert_eq!(find(&index, r#"+signal -storm* "lighthouse""#), vec![1]);
        // Punctuation only: no words, so the newest clips.
        assert_eq!(find(&index, "*:* ( ]"), vec![4, 3, 2, 1]);
        assert!(index.search("\"~^\\", Some("drama"), 10, 0).is_ok());
    }

    #[test]
    fn committed_position_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let index = SearchIndex::open(dir.path()).unwrap();
            assert_eq!(index.committed_position(), 0);
            index.upsert(&doc(1, "Signal", "", "ada", "Drama")).unwrap();
            index.commit(42).unwrap();
            assert_eq!(index.committed_position(), 42);
            // A position-only commit is persisted too.
            index.commit(43).unwrap();
        }
        let index = SearchIndex::open(dir.path()).unwrap();
        assert_eq!(index.committed_position(), 43);
        assert_eq!(find(&index, "signal"), vec![1]);
    }

    #[test]
    fn second_writer_is_locked() {
        let (dir, _index) = sample();
        assert!(matches!(SearchIndex::open(dir.path()), Err(SearchError::Locked)));
    }

    #[test]
    fn corrupt_index_is_recreated() {
        let dir = tempfile::tempdir().unwrap();
        {
            let index = SearchIndex::open(dir.path()).unwrap();
            index.upsert(&doc(1, "Signal", "", "ada", "Drama")).unwrap();
            index.commit(7).unwrap();
        }
        std::fs::write(dir.path().join("meta.json"), b"\0garbage{{").unwrap();
        std::fs::write(dir.path().join("junk.bin"), b"junk").unwrap();
        assert!(matches!(SearchIndex::open(dir.path()), Err(SearchError::Corrupt(_))));

        let (index, recreated) = SearchIndex::open_or_recreate(dir.path()).unwrap();
        assert!(recreated);
        assert_eq!(index.num_docs(), 0);
        assert_eq!(index.committed_position(), 0);
        assert!(!dir.path().join("junk.bin").exists());
        drop(index);

        let (index, recreated) = SearchIndex::open_or_recreate(dir.path()).unwrap();
        assert!(!recreated);
        assert_eq!(index.num_docs(), 0);
    }

    #[test]
    fn other_schema_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut builder = Schema::builder();
            builder.add_text_field("title", STRING);
            Index::create_in_dir(dir.path(), builder.build()).unwrap();
        }
        assert!(matches!(SearchIndex::open(dir.path()), Err(SearchError::Corrupt(_))));
        let (_index, recreated) = SearchIndex::open_or_recreate(dir.path()).unwrap();
        assert!(recreated);
    }

    #[test]
    fn incompatible_payload_is_corrupt() {
        assert_eq!(parse_payload(None).unwrap(), 0);
        assert_eq!(parse_payload(Some("aimoviez-search/1 position=9")).unwrap(), 9);
        assert!(matches!(parse_payload(Some("aimoviez-search/0 position=9")), Err(SearchError::Corrupt(_))));
    }
}
