//! Media serving over HTTP: ranges, validators, caching and path safety.

use reqwest::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH,
    IF_RANGE, LAST_MODIFIED, RANGE,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{TestApp, spawn_app};

async fn first_video(app: &TestApp) -> (String, Vec<u8>) {
    let feed = app.feed().await;
    let url = feed["clips"][0]["videoUrl"].as_str().expect("videoUrl").to_owned();
    let path = app.data_dir().join("media").join(url.trim_start_matches("/media/"));
    (url, std::fs::read(path).expect("file on disk"))
}

async fn get_range(app: &TestApp, url: &str, range: &str) -> reqwest::Response {
    app.client.get(app.url(url)).header(RANGE, range).send().await.expect("request")
}

#[tokio::test]
async fn a_whole_file_has_every_validator_and_immutable_caching() {
    let app = spawn_app().await;
    let (url, bytes) = first_video(&app).await;
    let response = app.get(&url).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers[CONTENT_TYPE], "video/mp4");
    assert_eq!(headers[ACCEPT_RANGES], "bytes");
    assert_eq!(headers[CACHE_CONTROL], "public, max-age=31536000, immutable");
    assert_eq!(headers[CONTENT_LENGTH], bytes.len().to_string().as_str());
    assert!(headers.contains_key(LAST_MODIFIED));
    let etag = headers[ETAG].to_str().expect("ascii").to_owned();
    assert!(etag.starts_with('"') && url.contains(etag.trim_matches('"')), "etag is the content hash");
    assert_eq!(response.bytes().await.expect("body").as_ref(), bytes.as_slice());

    let head = app.client.head(app.url(&url)).send().await.expect("head");
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()[CONTENT_LENGTH], bytes.len().to_string().as_str());
    assert!(head.bytes().await.expect("body").is_empty());

    let poster = app.feed().await["clips"][0]["posterUrl"].as_str().expect("poster").to_owned();
    assert_eq!(app.get(&poster).await.headers()[CONTENT_TYPE], "image/jpeg");
}

#[tokio::test]
async fn the_range_table() {
    let app = spawn_app().await;
    let (url, bytes) = first_video(&app).await;
    let len = bytes.len();
    let cases: [(&str, usize, usize); 6] = [
        // Safari's probe: without a 206 here it plays nothing.
        ("bytes=0-1", 0, 1),
        ("bytes=100-199", 100, 199),
        ("bytes=1000-", 1000, len - 1),
        ("bytes=-500", len - 500, len - 1),
        ("bytes=-99999999", 0, len - 1),
        ("bytes=10-99999999", 10, len - 1),
    ];
    for (range, start, end) in cases {
        let response = get_range(&app, &url, range).await;
        assert_eq!(response.status(), 206, "{range}");
        assert_eq!(response.headers()[CONTENT_RANGE], format!("bytes {start}-{end}/{len}").as_str(), "{range}");
        assert_eq!(response.headers()[CONTENT_LENGTH], (end - start + 1).to_string().as_str(), "{range}");
        assert_eq!(response.bytes().await.expect("body").as_ref(), &bytes[start..=end], "{range}");
    }
    for range in [format!("bytes={len}-"), format!("bytes={}-{}", len + 10, len + 20), "bytes=5-2".into()] {
        let response = get_range(&app, &url, &range).await;
        assert_eq!(response.status(), 416, "{range}");
        assert_eq!(response.headers()[CONTENT_RANGE], format!("bytes */{len}").as_str(), "{range}");
    }
    let head = app.client.head(app.url(&url)).header(RANGE, "bytes=0-1").send().await.expect("head");
    assert_eq!(head.status(), 206);
    assert_eq!(head.headers()[CONTENT_LENGTH], "2");
    // Several ranges get the whole file rather than an error.
    let multi = get_range(&app, &url, "bytes=0-1,10-20").await;
    assert_eq!(multi.status(), 200);
}

#[tokio::test]
async fn conditional_requests() {
    let app = spawn_app().await;
    let (url, bytes) = first_video(&app).await;
    let first = app.get(&url).await;
    let etag = first.headers()[ETAG].clone();
    let last_modified = first.headers()[LAST_MODIFIED].clone();

    let cached = app.client.get(app.url(&url)).header(IF_NONE_MATCH, etag.clone()).send().await.expect("request");
    assert_eq!(cached.status(), 304);
    assert_eq!(cached.headers()[ETAG], etag);
    assert!(cached.bytes().await.expect("body").is_empty());
    let other = app.client.get(app.url(&url)).header(IF_NONE_MATCH, "\"other\"").send().await.expect("request");
    assert_eq!(other.status(), 200);
    let since =
        app.client.get(app.url(&url)).header(IF_MODIFIED_SINCE, last_modified.clone()).send().await.expect("request");
    assert_eq!(since.status(), 304);

    let matching = app
        .client
        .get(app.url(&url))
        .header(RANGE, "bytes=0-9")
        .header(IF_RANGE, etag.clone())
        .send()
        .await
        .expect("request");
    assert_eq!(matching.status(), 206);
    let stale = app
        .client
        .get(app.url(&url))
        .header(RANGE, "bytes=0-9")
        .header(IF_RANGE, "\"stale\"")
        .send()
        .await
        .expect("request");
    assert_eq!(stale.status(), 200);
    assert_eq!(stale.bytes().await.expect("body").len(), bytes.len());
    let by_date = app
        .client
        .get(app.url(&url))
        .header(RANGE, "bytes=0-9")
        .header(IF_RANGE, last_modified)
        .send()
        .await
        .expect("request");
    assert_eq!(by_date.status(), 206);
}

/// Sends a raw request line, so the path reaches the server exactly as written
/// (HTTP clients normalise `..` away).
async fn raw_status(app: &TestApp, path: &str) -> u16 {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let response = exchange(app, &request, "Connection: close").await;
    let text = String::from_utf8_lossy(&response);
    text.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0)
}

#[tokio::test]
async fn no_path_outside_the_media_root_is_reachable() {
    let app = spawn_app().await;
    std::fs::write(app.data_dir().join("secret.txt"), "top secret").expect("write");
    let (url, _) = first_video(&app).await;
    let hash_path = url.trim_start_matches("/media/");
    let attempts = [
        "/media/../secret.key".to_owned(),
        "/media/../../etc/passwd".to_owned(),
        "/media/%2e%2e/secret.key".to_owned(),
        "/media/%2e%2e%2fsecret.key".to_owned(),
        "/media/..%2f..%2fetc%2fpasswd".to_owned(),
        "/media//etc/passwd".to_owned(),
        "/media/%2fetc%2fpasswd".to_owned(),
        "/media/..\\secret.key".to_owned(),
        "/media/%5c..%5csecret.key".to_owned(),
        format!("/media/{hash_path}%00.txt"),
        "/media/secret.txt".to_owned(),
        "/media/aimoviez.redb".to_owned(),
        format!("/media/{}", hash_path.replace(".mp4", ".txt")),
    ];
    for path in attempts {
        let status = raw_status(&app, &path).await;
        assert!(status == 404 || status == 400, "{path} answered {status}");
    }
    assert_eq!(raw_status(&app, &url).await, 200);
}

/// The offset of the first `\r\n\r\n` in `bytes` at or after `from`.
/// Writes `requests` raw on a new connection and reads until the server
/// closes it (`closes`: why it must, within 10 s).
async fn exchange(app: &TestApp, requests: &str, closes: &str) -> Vec<u8> {
    let mut stream = tokio::net::TcpStream::connect(app.address).await.expect("connect");
    stream.write_all(requests.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect(closes)
        .expect("read");
    response
}

fn head_end(bytes: &[u8], from: usize) -> Option<usize> {
    bytes[from..].windows(4).position(|window| window == b"\r\n\r\n").map(|at| from + at + 4)
}

#[tokio::test]
async fn pipelined_requests_around_file_answers_are_all_answered_in_order() {
    // A media answer's body is sent from the file outside hyper
    // (`http::serve`); hyper then goes on with what it had read ahead.
    let app = spawn_app().await;
    let (url, bytes) = first_video(&app).await;
    let requests = format!(
        "GET {url} HTTP/1.1\r\nHost: localhost\r\n\r\n\
         GET {url} HTTP/1.1\r\nHost: localhost\r\nRange: bytes=10-19\r\n\r\n\
         GET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n\
         GET {url} HTTP/1.1\r\nHost: localhost\r\nRange: bytes=-5\r\n\r\n\
         GET {url} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    );
    let response = exchange(&app, &requests, "the last answer closes the connection").await;

    let mut at = 0;
    let mut answers = Vec::new();
    while at < response.len() {
        let end = head_end(&response, at).expect("a complete head");
        let head = String::from_utf8_lossy(&response[at..end]).to_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length: "))
            .and_then(|value| value.trim().parse().ok())
            .expect("content-length");
        answers.push((head, response[end..end + length].to_vec()));
        at = end + length;
    }
    assert_eq!(answers.len(), 5, "five answers, nothing more");
    assert!(answers[0].0.starts_with("http/1.1 200"), "{}", answers[0].0);
    assert_eq!(answers[0].1, bytes, "the whole file");
    assert!(!answers[0].0.contains("connection: close"), "{}", answers[0].0);
    assert!(answers[1].0.starts_with("http/1.1 206"), "{}", answers[1].0);
    assert!(answers[1].0.contains(&format!("content-range: bytes 10-19/{}", bytes.len())), "{}", answers[1].0);
    assert_eq!(answers[1].1, bytes[10..20]);
    assert!(answers[2].0.starts_with("http/1.1 200"), "{}", answers[2].0);
    assert!(String::from_utf8_lossy(&answers[2].1).contains("\"status\""), "health answered in between");
    // A file answer right after one hyper wrote: hyper's bytes go out first.
    assert!(answers[3].0.starts_with("http/1.1 206"), "{}", answers[3].0);
    assert_eq!(answers[3].1, bytes[bytes.len() - 5..]);
    assert!(answers[4].0.contains("connection: close"), "{}", answers[4].0);
    assert_eq!(answers[4].1, bytes);
}

#[tokio::test]
async fn an_http_1_0_client_gets_the_file_and_the_close() {
    let app = spawn_app().await;
    let (url, bytes) = first_video(&app).await;
    let response = exchange(&app, &format!("GET {url} HTTP/1.0\r\n\r\n"), "closed after the answer").await;
    let end = head_end(&response, 0).expect("a head");
    // hyper answers an HTTP/1.0 request in HTTP/1.0; either version line is a 200 it can read.
    let status_line_ok = response.starts_with(b"HTTP/1.1 200") || response.starts_with(b"HTTP/1.0 200");
    assert!(status_line_ok, "{}", String::from_utf8_lossy(&response[..end]));
    assert_eq!(&response[end..], bytes.as_slice());
}

#[tokio::test]
async fn a_file_cut_short_on_disk_ends_its_answer_by_closing_the_connection() {
    // The memory cache keeps the descriptor it read the file through, and
    // the body goes out with `sendfile` from that descriptor. If someone
    // cuts the file short behind the server's back, the answer's
    // `Content-Length` (from the cache) cannot be met: the connection
    // closes early, so the client knows the body is incomplete, rather
    // than hanging or reading the next answer as the rest of this one.
    let app = spawn_app().await;
    let (url, bytes) = first_video(&app).await;
    assert_eq!(app.get(&url).await.bytes().await.expect("body").as_ref(), bytes.as_slice(), "cached now");
    let path = app.data_dir().join("media").join(url.trim_start_matches("/media/"));
    let half = bytes.len() as u64 / 2;
    std::fs::OpenOptions::new().write(true).open(&path).expect("open").set_len(half).expect("truncate");

    let requests =
        format!("GET {url} HTTP/1.1\r\nHost: localhost\r\n\r\nGET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let response = exchange(&app, &requests, "the server closes the connection").await;
    let end = head_end(&response, 0).expect("a head");
    let head = String::from_utf8_lossy(&response[..end]).to_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains(&format!("content-length: {}", bytes.len())), "{head}");
    let body = &response[end..];
    assert_eq!(body.len() as u64, half, "what the file still holds, and nothing after it");
    assert_eq!(body, &bytes[..body.len()]);
}
