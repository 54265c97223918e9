//! Compresses the text assets in `static/` once, at build time (issue #16),
//! so serving one costs no compression work: `src/http/pages/assets.rs`
//! compiles in each file next to its `.br` (brotli, best quality) and `.gz`
//! (gzip, best level) from `OUT_DIR` and picks one by `Accept-Encoding`.
//!
//! Build time rather than start-up: best-quality brotli of the ~60 KB of
//! CSS and JS takes tens of milliseconds optimised (seconds in a debug
//! build), which start-up and every test server would otherwise pay. Images
//! (PNG) are already compressed and are left alone.

use std::io::Write;
use std::path::Path;

/// The text files of `static/` served compressed.
const TEXT_ASSETS: [&str; 6] = ["app.css", "app.js", "captcha.js", "live.js", "tally.js", "icon.svg"];

fn main() {
    let out_dir = std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR for build scripts");
    for name in TEXT_ASSETS {
        let source = Path::new("static").join(name);
        println!("cargo:rerun-if-changed={}", source.display());
        let body = std::fs::read(&source).unwrap_or_else(|error| panic!("reading {}: {error}", source.display()));
        let out = Path::new(&out_dir);
        write(&out.join(format!("{name}.br")), &brotli(&body));
        write(&out.join(format!("{name}.gz")), &gzip(&body));
    }
    println!("cargo:rerun-if-changed=build.rs");
}

fn brotli(body: &[u8]) -> Vec<u8> {
    let params = brotli::enc::BrotliEncoderParams { quality: 11, lgwin: 22, ..Default::default() };
    let mut out = Vec::new();
    brotli::BrotliCompress(&mut &body[..], &mut out, &params).expect("brotli into memory cannot fail");
    out
}

/// Deterministic: flate2 writes a zero modification time and no file name,
/// so the same source always gives the same bytes.
fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(body).expect("gzip into memory cannot fail");
    encoder.finish().expect("gzip into memory cannot fail")
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap_or_else(|error| panic!("writing {}: {error}", path.display()));
}
