//! The browser's files: the smallest form the browser accepts, and how long it may keep
//! them. (Hashed names, kept for a year, are checked by the browser tests against a
//! release build: `end2end/tests/transfer.spec.ts`.)

use crate::helpers::{spawn_app, Backend};
use reqwest::{header, StatusCode};

#[tokio::test]
async fn browser_files_come_in_the_smallest_accepted_form_and_are_checked_before_reuse() {
    let app = spawn_app(Backend::Sqlite).await;
    let pkg = app.site_root().join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    let plain = "console.log('chargelog');\n".repeat(400);
    std::fs::write(pkg.join("chargelog.js"), &plain).unwrap();
    std::fs::write(pkg.join("chargelog.js.br"), "brotli form").unwrap();
    std::fs::write(pkg.join("chargelog.js.gz"), "gzip form").unwrap();
    std::fs::write(pkg.join("chargelog.css"), "body {}").unwrap();
    std::fs::write(app.site_root().join("favicon.svg"), "<svg/>").unwrap();
    // No decompression in this client: the bodies are what went over the wire.
    let http = reqwest::Client::new();
    let get = |path: &str, accept: &str| {
        let request = http.get(app.url(path));
        let request = if accept.is_empty() {
            request
        } else {
            request.header(header::ACCEPT_ENCODING, accept)
        };
        request.send()
    };

    for (accept, encoding, body) in [
        ("gzip, deflate, br, zstd", Some("br"), "brotli form"),
        ("gzip, deflate", Some("gzip"), "gzip form"),
        ("", None, plain.as_str()),
    ] {
        let answer = get("/pkg/chargelog.js", accept).await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK, "{accept}");
        let headers = answer.headers().clone();
        assert_eq!(
            headers
                .get(header::CONTENT_ENCODING)
                .map(|v| v.to_str().unwrap()),
            encoding,
            "{accept}"
        );
        assert_eq!(headers[header::VARY], "accept-encoding");
        // A debug build's names are not hashed: kept, but checked before each use.
        assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
        assert_eq!(answer.text().await.unwrap(), body, "{accept}");
    }

    // A file without compressed forms comes as it is.
    let css = get("/pkg/chargelog.css", "br, gzip").await.unwrap();
    assert_eq!(css.status(), StatusCode::OK);
    assert!(css.headers().get(header::CONTENT_ENCODING).is_none());

    // Checking costs no body when nothing changed.
    let first = get("/favicon.svg", "").await.unwrap();
    assert_eq!(first.headers()[header::CACHE_CONTROL], "no-cache");
    let modified = first.headers()[header::LAST_MODIFIED].clone();
    let again = http
        .get(app.url("/favicon.svg"))
        .header(header::IF_MODIFIED_SINCE, modified)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert!(again.text().await.unwrap().is_empty());
}
