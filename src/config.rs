//! Configuration: defaults, overridden by an optional TOML file, overridden by
//! `AIMOVIEZ_*` environment variables, overridden by command-line flags.
//! Everything is checked once at start; an unknown key or a bad value is an
//! error that names the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::Deserialize;

/// Prefix of environment variables that set configuration keys.
pub const ENV_PREFIX: &str = "AIMOVIEZ_";

/// Sections of the file; `AIMOVIEZ_VOTES_DAILY_BUDGET` sets `votes.daily_budget`
/// and `AIMOVIEZ_MEDIA_S3_BUCKET` sets `media.s3.bucket`. A nested section
/// comes before its parent, so the longest prefix wins.
const SECTIONS: [&str; 9] =
    ["media.s3", "votes", "writer", "storage", "media", "rate_limits", "captcha", "metrics", "backup"];

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Directory holding the database, media, search index and secrets.
    pub data_dir: PathBuf,
    /// The public URL (scheme + host) when behind a proxy; `https` turns on secure cookies.
    pub public_url: Option<String>,
    /// `text` (default) or `json` log lines.
    pub log_format: LogFormat,
    /// Peers whose `X-Forwarded-For` is believed. Loopback by default.
    pub trusted_proxies: Vec<IpNet>,
    /// Seconds a request may take before it is answered with 503.
    pub request_timeout_secs: u64,
    /// Seconds a connection may take to send a request head, and may stay
    /// idle between requests.
    pub header_read_timeout_secs: u64,
    /// Largest request head (request line and headers), in bytes.
    pub max_header_bytes: usize,
    /// Concurrent connections one client address may hold, live streams
    /// aside (0: no cap). Trusted proxies are not capped.
    pub max_connections_per_ip: usize,
    /// Largest JSON or form body accepted, in bytes.
    pub json_body_limit_bytes: usize,
    /// Genres a clip or season may have, and the choices of the genre vote.
    pub genres: Vec<String>,
    /// Voting rules.
    pub votes: VotesConfig,
    /// The single writer.
    pub writer: WriterConfig,
    /// The database.
    pub storage: StorageConfig,
    /// Media files.
    pub media: MediaConfig,
    /// Requests per minute per client and route class.
    pub rate_limits: crate::ratelimit::RateLimitConfig,
    /// The proof-of-work captcha.
    pub captcha: crate::captcha::CaptchaConfig,
    /// Who may read `/metrics`.
    pub metrics: MetricsConfig,
    /// Scheduled backups.
    pub backup: BackupConfig,
}

/// Who may read `/metrics`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// A bearer token that lets a remote scraper in (`Authorization: Bearer
    /// <token>`); empty = clients on this machine only.
    pub token: SecretString,
}

/// Scheduled backups: a full backup every `every_hours` into
/// `<dir>/aimoviez-<UTC timestamp>/`, keeping the newest `keep`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupConfig {
    /// Hours between backups; 0 turns scheduled backups off.
    pub every_hours: u64,
    /// Scheduled backups kept; older ones are deleted after a new one completes.
    pub keep: usize,
    /// Where scheduled backups go: a directory, relative to `data_dir`
    /// unless absolute, or `s3://bucket/prefix` (endpoint and credentials
    /// from `[media.s3]` and `AWS_*`).
    pub dir: PathBuf,
}

/// Where scheduled backups go (`backup.dir`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupTarget {
    /// A directory.
    Dir(PathBuf),
    /// A bucket and prefix.
    S3(S3Url),
}

impl Default for BackupConfig {
    fn default() -> Self {
        BackupConfig { every_hours: 0, keep: 7, dir: PathBuf::from("backups") }
    }
}

/// A secret from the configuration: never printed (Debug shows only whether
/// it is set), compared in constant time.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    /// Whether no secret is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Compares with a candidate without leaking where they differ.
    pub fn matches(&self, candidate: &str) -> bool {
        !self.0.is_empty() && blake3::hash(self.0.as_bytes()) == blake3::hash(candidate.as_bytes())
    }

    fn len(&self) -> usize {
        self.0.chars().count()
    }

    /// The secret itself, for the one place that must send it on.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<&str> for SecretString {
    fn from(secret: &str) -> Self {
        SecretString(secret.to_owned())
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() { "SecretString(empty)" } else { "SecretString(..)" })
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Voting rules.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VotesConfig {
    /// Weight units each voter may spend per UTC day.
    pub daily_budget: u32,
}

/// The single writer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WriterConfig {
    /// Most commands committed in one transaction.
    pub batch_max: usize,
    /// Commands that may wait for the writer; beyond this requests get 503.
    pub queue_capacity: usize,
}

/// The database.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// redb page cache in MiB.
    pub cache_mb: usize,
}

/// Media files.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaConfig {
    /// Memory for keeping hot media files, in MiB (0 turns the cache off).
    pub cache_mb: u64,
    /// Files larger than this are streamed from disk instead of cached, in MiB.
    pub max_cached_file_mb: u64,
    /// Largest upload accepted, in MiB (enforced while streaming).
    pub max_upload_mb: u64,
    /// Longest clip accepted, in milliseconds.
    pub max_duration_ms: u32,
    /// Path to ffmpeg for posters and faststart remuxes; empty = look for
    /// `ffmpeg` on PATH; "off" = never use it.
    pub ffmpeg: String,
    /// Most clips one account may have waiting for moderation.
    pub max_pending_uploads: usize,
    /// Where clients fetch public media from (`{base_url}/media/{name}`),
    /// e.g. a CDN pull zone whose origin is this server; "" = this server.
    pub base_url: String,
    /// Where the files are kept: the data dir's `media/` or a bucket.
    pub store: MediaStore,
    /// The bucket, when `store = "s3"` (and for `backup s3://…`).
    pub s3: S3Config,
}

/// Where media files are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaStore {
    /// `<data_dir>/media/`.
    #[default]
    Disk,
    /// An S3-compatible bucket (`[media.s3]`).
    S3,
}

/// An S3-compatible bucket. Empty settings fall back to the standard `AWS_*`
/// environment variables (see `objstore::connect`), so credentials can stay
/// out of the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Config {
    /// Base URL of the S3 API, e.g. `https://s3.eu-central-1.amazonaws.com`
    /// or `http://127.0.0.1:9000`; "" = `AWS_ENDPOINT`, else AWS itself.
    pub endpoint: String,
    /// The bucket; it must exist.
    pub bucket: String,
    /// Region used to sign requests; "" = `AWS_DEFAULT_REGION`/`AWS_REGION`, else `us-east-1`.
    pub region: String,
    /// `{endpoint}/{bucket}/{key}` URLs (true) instead of `{bucket}.{endpoint host}`.
    pub path_style: bool,
    /// "" = `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// "" = `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: SecretString,
}

impl Default for S3Config {
    fn default() -> Self {
        S3Config {
            endpoint: String::new(),
            bucket: String::new(),
            region: String::new(),
            path_style: true,
            access_key_id: String::new(),
            secret_access_key: SecretString::default(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            public_url: None,
            log_format: LogFormat::Text,
            trusted_proxies: ["127.0.0.0/8", "::1/128"].iter().filter_map(|net| net.parse().ok()).collect(),
            request_timeout_secs: 30,
            header_read_timeout_secs: 15,
            max_header_bytes: 64 * 1024,
            max_connections_per_ip: 64,
            json_body_limit_bytes: 64 * 1024,
            genres: crate::domain::genre::default_genres(),
            votes: VotesConfig::default(),
            writer: WriterConfig::default(),
            storage: StorageConfig::default(),
            media: MediaConfig::default(),
            rate_limits: crate::ratelimit::RateLimitConfig::default(),
            captcha: crate::captcha::CaptchaConfig::default(),
            metrics: MetricsConfig::default(),
            backup: BackupConfig::default(),
        }
    }
}

impl Default for VotesConfig {
    fn default() -> Self {
        VotesConfig { daily_budget: 200 }
    }
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig { batch_max: 4096, queue_capacity: 50_000 }
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig { cache_mb: 64 }
    }
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            cache_mb: 256,
            max_cached_file_mb: 16,
            max_upload_mb: 50,
            max_duration_ms: 8_500,
            ffmpeg: String::new(),
            max_pending_uploads: 10,
            base_url: String::new(),
            store: MediaStore::Disk,
            s3: S3Config::default(),
        }
    }
}

/// A configuration problem, naming the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML, or a key is unknown or has a bad value.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Values given on the command line; `None` leaves the lower layers alone.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Option<SocketAddr>,
    /// `--data`.
    pub data_dir: Option<PathBuf>,
    /// `--log-json`.
    pub log_json: bool,
}

impl Config {
    /// Builds the configuration from its layers and checks it.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &Overrides,
    ) -> Result<Config, ConfigError> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
                text.parse::<toml::Table>()
                    .map_err(|error| ConfigError::Invalid(format!("{}: {error}", path.display())))?
            }
            None => toml::Table::new(),
        };
        for (name, value) in env {
            let Some(key) = name.strip_prefix(ENV_PREFIX) else { continue };
            set_env_key(&mut table, &name, &key.to_ascii_lowercase(), &value)?;
        }
        if let Some(listen) = overrides.listen {
            table.insert("listen".into(), toml::Value::String(listen.to_string()));
        }
        if let Some(dir) = &overrides.data_dir {
            table.insert("data_dir".into(), toml::Value::String(dir.display().to_string()));
        }
        if overrides.log_json {
            table.insert("log_format".into(), toml::Value::String("json".into()));
        }
        // Going through TOML text (rather than deserializing the table in
        // place) makes errors quote the offending line, so they name the key.
        let text = toml::to_string(&table).map_err(|error| ConfigError::Invalid(error.to_string()))?;
        let config: Config =
            toml::from_str(&text).map_err(|error| ConfigError::Invalid(error.to_string().trim().to_owned()))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, why: &str| Err(ConfigError::Invalid(format!("`{key}` {why}")));
        if self.votes.daily_budget == 0 {
            return invalid("votes.daily_budget", "must be at least 1");
        }
        if self.writer.batch_max == 0 {
            return invalid("writer.batch_max", "must be at least 1");
        }
        if self.writer.queue_capacity == 0 {
            return invalid("writer.queue_capacity", "must be at least 1");
        }
        if !(1..=1024).contains(&self.media.max_upload_mb) {
            return invalid("media.max_upload_mb", "must be between 1 and 1024");
        }
        if !(1_000..=60_000).contains(&self.media.max_duration_ms) {
            return invalid("media.max_duration_ms", "must be between 1000 and 60000");
        }
        if !(1..=10_000).contains(&self.media.max_pending_uploads) {
            return invalid("media.max_pending_uploads", "must be between 1 and 10000");
        }
        if self.storage.cache_mb == 0 {
            return invalid("storage.cache_mb", "must be at least 1");
        }
        if self.request_timeout_secs == 0 {
            return invalid("request_timeout_secs", "must be at least 1");
        }
        if self.header_read_timeout_secs == 0 {
            return invalid("header_read_timeout_secs", "must be at least 1");
        }
        if self.max_header_bytes < 8192 {
            return invalid("max_header_bytes", "must be at least 8192");
        }
        if self.genres.is_empty()
            || self.genres.iter().any(|g| g.trim().is_empty() || g.len() > 32 || *g != g.to_ascii_lowercase())
        {
            return invalid("genres", "must list 1 or more lowercase names of at most 32 characters");
        }
        if self.json_body_limit_bytes < 1024 {
            return invalid("json_body_limit_bytes", "must be at least 1024");
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return invalid("public_url", "must start with http:// or https://");
        }
        if !self.media.base_url.is_empty() && !is_base_url(&self.media.base_url) {
            return invalid(
                "media.base_url",
                "must be empty or an http:// or https:// URL without a query, fragment, quotes or spaces",
            );
        }
        if self.media.store == MediaStore::S3 && self.media.s3.bucket.trim().is_empty() {
            return invalid("media.s3.bucket", "must be set when `media.store` is \"s3\"");
        }
        let endpoint = &self.media.s3.endpoint;
        if !endpoint.is_empty() && !is_base_url(endpoint) {
            return invalid("media.s3.endpoint", "must be empty or an http:// or https:// URL without a query");
        }
        if !self.metrics.token.is_empty() && self.metrics.token.len() < 16 {
            return invalid("metrics.token", "must be empty or at least 16 characters");
        }
        if self.backup.every_hours > 24 * 365 {
            return invalid("backup.every_hours", "must be between 0 (off) and 8760");
        }
        if self.backup.keep == 0 {
            return invalid("backup.keep", "must be at least 1");
        }
        if self.backup.dir.as_os_str().is_empty() {
            return invalid("backup.dir", "must not be empty");
        }
        if let Some(url) = self.backup.dir.to_str().filter(|dir| S3Url::looks_like(dir))
            && let Err(why) = S3Url::parse(url)
        {
            return invalid("backup.dir", &format!("is not a usable s3:// URL: {why}"));
        }
        Ok(())
    }

    /// Directory of scheduled backups (`backup.dir`, relative to the data dir).
    pub fn backup_dir(&self) -> PathBuf {
        self.data_dir.join(&self.backup.dir)
    }

    /// Where scheduled backups go: [`Config::backup_dir`], or the bucket
    /// and prefix when `backup.dir` is an `s3://` URL (checked at load).
    pub fn backup_target(&self) -> BackupTarget {
        match self.backup.dir.to_str().filter(|dir| S3Url::looks_like(dir)).map(S3Url::parse) {
            Some(Ok(url)) => BackupTarget::S3(url),
            _ => BackupTarget::Dir(self.backup_dir()),
        }
    }

    /// Path of the database file.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("aimoviez.redb")
    }

    /// Whether cookies get the `Secure` flag (the public URL is https).
    pub fn secure_cookies(&self) -> bool {
        self.public_url.as_deref().is_some_and(|url| url.starts_with("https://"))
    }

    /// Directory of the search index (derived data, rebuilt when missing).
    pub fn search_dir(&self) -> PathBuf {
        self.data_dir.join("search")
    }

    /// Root directory of media files.
    pub fn media_dir(&self) -> PathBuf {
        self.data_dir.join("media")
    }
}

/// Whether `url` can be put before `/media/{name}` in every page, JSON
/// body and content security policy: an http(s) URL with a host, and no
/// query, fragment, quote, space or angle bracket.
fn is_base_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")) else { return false };
    let host = rest.split('/').next().unwrap_or("");
    !host.is_empty()
        && url
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '?' | '#' | '"' | '\'' | '<' | '>' | '\\' | ';' | ','))
}

/// Places one environment variable into the table, parsing its value as a
/// TOML value when it is one (numbers, booleans, arrays) and as text otherwise.
fn set_env_key(table: &mut toml::Table, name: &str, key: &str, raw: &str) -> Result<(), ConfigError> {
    let value = format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut parsed| parsed.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()));
    let section = SECTIONS
        .iter()
        .find(|section| key.strip_prefix(section.replace('.', "_").as_str()).is_some_and(|rest| rest.starts_with('_')));
    let Some(section) = section else {
        table.insert(key.to_owned(), value);
        return Ok(());
    };
    let field = &key[section.len() + 1..];
    let mut inner = table;
    for part in section.split('.') {
        let entry = inner.entry(part.to_owned()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        inner = match entry {
            toml::Value::Table(next) => next,
            _ => {
                return Err(ConfigError::Invalid(format!("{name}: `{section}` is not a section in the config file")));
            }
        };
    }
    inner.insert(field.to_owned(), value);
    Ok(())
}

/// `s3://bucket/prefix`, parsed and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    /// The bucket.
    pub bucket: String,
    /// The key prefix without leading or trailing `/` ("" = the bucket's root).
    pub prefix: String,
}

impl S3Url {
    /// Whether `text` is meant as an S3 URL (`s3:` at the start), so a
    /// malformed one is refused instead of taken for a local directory.
    pub fn looks_like(text: &str) -> bool {
        text.get(..3).is_some_and(|scheme| scheme.eq_ignore_ascii_case("s3:"))
    }

    /// Parses `s3://bucket[/prefix]`. The bucket follows S3's naming rules
    /// (3–63 lowercase letters, digits, `.` and `-`); the prefix is
    /// `/`-separated segments of printable ASCII without `.`/`..` segments.
    pub fn parse(text: &str) -> Result<S3Url, String> {
        let Some(rest) = text.strip_prefix("s3://") else {
            return Err(format!("`{text}` is not an s3:// URL (write s3://bucket/prefix)"));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
            && bucket.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && bucket.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric());
        if !bucket_ok {
            return Err(format!(
                "`{text}`: `{bucket}` is not a bucket name (3 to 63 lowercase letters, digits, `.` and `-`)"
            ));
        }
        let prefix = prefix.trim_end_matches('/');
        if !prefix.is_empty() {
            for segment in prefix.split('/') {
                let printable = segment.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b'\\' | b'*' | b'?'));
                if segment.is_empty() || segment == "." || segment == ".." || !printable {
                    return Err(format!(
                        "`{text}`: the key prefix `{prefix}` has an empty, `.`, `..` or unprintable part"
                    ));
                }
            }
        }
        Ok(S3Url { bucket: bucket.to_owned(), prefix: prefix.to_owned() })
    }

    /// This URL with `name` appended to the prefix.
    pub fn child(&self, name: &str) -> S3Url {
        let prefix = if self.prefix.is_empty() { name.to_owned() } else { format!("{}/{name}", self.prefix) };
        S3Url { bucket: self.bucket.clone(), prefix }
    }

    /// The last segment of the prefix (a backup's name).
    pub fn name(&self) -> &str {
        self.prefix.rsplit('/').next().unwrap_or("")
    }
}

impl std::fmt::Display for S3Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.prefix.is_empty() {
            write!(f, "s3://{}", self.bucket)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(file_text: &str, env: &[(&str, &str)], overrides: Overrides) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("aimoviez.toml");
        std::fs::write(&path, file_text).expect("write");
        let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
        Config::load(Some(&path), env, &overrides)
    }

    #[test]
    fn defaults_are_valid() {
        let config = Config::load(None, Vec::new(), &Overrides::default()).expect("defaults");
        assert_eq!(config.votes.daily_budget, 200);
        assert_eq!(config.listen.port(), 8080);
    }

    #[test]
    fn layers_override_in_order() {
        let config = load(
            "listen = \"127.0.0.1:9000\"\n[votes]\ndaily_budget = 10\n",
            &[("AIMOVIEZ_VOTES_DAILY_BUDGET", "20"), ("AIMOVIEZ_LISTEN", "127.0.0.1:9100"), ("OTHER", "x")],
            Overrides { listen: Some("127.0.0.1:9200".parse().expect("addr")), ..Overrides::default() },
        )
        .expect("valid");
        assert_eq!(config.votes.daily_budget, 20);
        assert_eq!(config.listen.port(), 9200);
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        let error = load("lisen = \"x\"\n", &[], Overrides::default()).expect_err("unknown key");
        assert!(error.to_string().contains("lisen"), "{error}");
        let error = load("", &[("AIMOVIEZ_VOTES_DAILY_BUDGET", "lots")], Overrides::default()).expect_err("bad value");
        assert!(error.to_string().contains("daily_budget"), "{error}");
        let error = load("[votes]\ndaily_budget = 0\n", &[], Overrides::default()).expect_err("zero");
        assert!(error.to_string().contains("votes.daily_budget"), "{error}");
        let error = load("", &[("AIMOVIEZ_NOPE", "1")], Overrides::default()).expect_err("unknown env");
        assert!(error.to_string().contains("nope"), "{error}");
    }
}

#[cfg(test)]
mod ops_keys {
    use super::*;

    fn load(file_text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("aimoviez.toml");
        std::fs::write(&path, file_text).expect("write");
        let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
        Config::load(Some(&path), env, &Overrides::default())
    }

    #[test]
    fn backup_and_metrics_keys_have_defaults_and_parse() {
        let defaults = Config::default();
        assert_eq!(defaults.backup.every_hours, 0, "scheduled backups are off by default");
        assert_eq!(defaults.backup.keep, 7);
        assert_eq!(defaults.backup.dir, PathBuf::from("backups"));
        assert!(defaults.metrics.token.is_empty(), "metrics are loopback-only by default");
        assert_eq!(defaults.backup_dir(), PathBuf::from("./data").join("backups"));

        let config = load(
            "[backup]\nevery_hours = 6\nkeep = 3\ndir = \"/srv/backups\"\n[metrics]\ntoken = \"0123456789abcdef-scraper\"\n",
            &[("AIMOVIEZ_BACKUP_KEEP", "5")],
        )
        .expect("valid");
        assert_eq!(config.backup.every_hours, 6);
        assert_eq!(config.backup.keep, 5, "env beats the file");
        assert_eq!(config.backup_dir(), PathBuf::from("/srv/backups"), "an absolute dir is kept");
        assert!(config.metrics.token.matches("0123456789abcdef-scraper"));
        assert!(!config.metrics.token.matches("0123456789abcdef-scrapeR"));
        assert!(!format!("{config:?}").contains("0123456789abcdef"), "the token never prints");
        let from_env = load("", &[("AIMOVIEZ_METRICS_TOKEN", "a-token-from-the-environment")]).expect("env token");
        assert!(from_env.metrics.token.matches("a-token-from-the-environment"));
    }

    #[test]
    fn bad_backup_and_metrics_values_name_the_key() {
        for (text, key) in [
            ("[backup]\nkeep = 0\n", "backup.keep"),
            ("[backup]\nevery_hours = 100000\n", "backup.every_hours"),
            ("[backup]\nevery_hours = -1\n", "every_hours"),
            ("[backup]\ndir = \"\"\n", "backup.dir"),
            ("[backup]\nretain = 3\n", "retain"),
            ("[metrics]\ntoken = \"short\"\n", "metrics.token"),
        ] {
            let error = load(text, &[]).expect_err(text);
            assert!(error.to_string().contains(key), "{text}: {error}");
        }
        assert!(!Config::default().metrics.token.matches(""), "an empty token matches nothing");
    }

    #[test]
    fn the_media_base_url_is_an_http_url_fit_for_pages_and_headers() {
        assert_eq!(Config::default().media.base_url, "", "media comes from this server by default");
        let config = load("", &[("AIMOVIEZ_MEDIA_BASE_URL", "https://cdn.example.net")]).expect("valid");
        assert_eq!(config.media.base_url, "https://cdn.example.net");
        assert!(load("[media]\nbase_url = \"http://127.0.0.1:9000/pull/\"\n", &[]).is_ok());
        for bad in
            ["cdn.example.net", "https://", "https://cdn.example.net/?a=1", "https://x\"y", "ftp://cdn", "https://a b"]
        {
            let error = load(&format!("[media]\nbase_url = {bad:?}\n"), &[]).expect_err(bad);
            assert!(error.to_string().contains("media.base_url"), "{bad}: {error}");
        }
    }

    #[test]
    fn s3_media_needs_a_bucket_and_reads_its_nested_section_from_the_environment() {
        assert_eq!(Config::default().media.store, MediaStore::Disk);
        let error = load("[media]\nstore = \"s3\"\n", &[]).expect_err("no bucket");
        assert!(error.to_string().contains("media.s3.bucket"), "{error}");
        let config = load(
            "[media]\nstore = \"s3\"\n[media.s3]\nbucket = \"film\"\n",
            &[
                ("AIMOVIEZ_MEDIA_S3_ENDPOINT", "http://127.0.0.1:9000"),
                ("AIMOVIEZ_MEDIA_S3_PATH_STYLE", "false"),
                ("AIMOVIEZ_MEDIA_S3_SECRET_ACCESS_KEY", "shh"),
            ],
        )
        .expect("valid");
        assert_eq!(config.media.store, MediaStore::S3);
        assert_eq!(
            (config.media.s3.bucket.as_str(), config.media.s3.endpoint.as_str()),
            ("film", "http://127.0.0.1:9000")
        );
        assert!(!config.media.s3.path_style);
        assert_eq!(config.media.s3.secret_access_key.expose(), "shh");
        assert!(!format!("{config:?}").contains("shh"), "the secret is never printed");
        let error = load("", &[("AIMOVIEZ_MEDIA_S3_BUCKIT", "x")]).expect_err("unknown nested key");
        assert!(error.to_string().contains("buckit"), "{error}");
        let error = load("[media.s3]\nendpoint = \"s3.example.net\"\n", &[]).expect_err("not a URL");
        assert!(error.to_string().contains("media.s3.endpoint"), "{error}");
    }
}

#[cfg(test)]
mod example_file {
    use super::*;

    #[test]
    fn the_example_config_is_valid_and_matches_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("aimoviez.example.toml");
        let from_file = Config::load(Some(&path), Vec::new(), &Overrides::default()).expect("example parses");
        let defaults = Config::default();
        assert_eq!(format!("{from_file:?}"), format!("{defaults:?}"));
    }

    #[test]
    fn a_backup_dir_may_be_an_s3_url() {
        let config = Config::load(
            None,
            [("AIMOVIEZ_BACKUP_DIR".to_owned(), "s3://film-backups/nightly/".to_owned())],
            &Overrides::default(),
        )
        .expect("an s3:// backup dir");
        let url = S3Url { bucket: "film-backups".into(), prefix: "nightly".into() };
        assert_eq!(config.backup_target(), BackupTarget::S3(url));
        assert_eq!(Config::default().backup_target(), BackupTarget::Dir(PathBuf::from("./data/backups")));
        let error = Config::load(
            None,
            [("AIMOVIEZ_BACKUP_DIR".to_owned(), "s3:/film-backups".to_owned())],
            &Overrides::default(),
        )
        .expect_err("malformed");
        assert!(error.to_string().contains("backup.dir"), "{error}");
    }

    #[test]
    fn s3_urls_parse_strictly() {
        let url = S3Url::parse("s3://my-bucket.example/backups/nightly/").expect("url");
        assert_eq!(url, S3Url { bucket: "my-bucket.example".into(), prefix: "backups/nightly".into() });
        assert_eq!(url.to_string(), "s3://my-bucket.example/backups/nightly");
        assert_eq!(url.child("aimoviez-20260102T030405Z").name(), "aimoviez-20260102T030405Z");
        assert_eq!(S3Url::parse("s3://bkt").expect("root").prefix, "");
        assert_eq!(S3Url::parse("s3://bkt").expect("root").child("x").prefix, "x");
        for bad in [
            "s3:/bkt/x",
            "s3://",
            "s3://B/x",
            "s3://ab",
            "s3://-bkt",
            "s3://bkt/a//b",
            "s3://bkt/../x",
            "s3://bkt/a b",
            "http://bkt/x",
        ] {
            assert!(S3Url::parse(bad).is_err(), "{bad}");
        }
        assert!(S3Url::looks_like("S3:/oops") && S3Url::looks_like("s3://b/x") && !S3Url::looks_like("/srv/s3"));
    }
}
