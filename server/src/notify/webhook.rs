//! A notification to a webhook: the JSON body as queued, signed so that the receiver can
//! tell it came from this chargelog and is fresh:
//!
//! `Chargelog-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with
//! the endpoint's secret>`; `Chargelog-Event: alert.opened`; `Chargelog-Delivery: <id>`
//! (the same on every retry of one notification, for the receiver to ignore repeats).

use super::address;
use super::Outcome;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::time::Duration;

/// The whole exchange, connecting included.
pub const TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The `Chargelog-Signature` header for `body` sent at `unix_seconds`.
pub fn signature(secret: &str, unix_seconds: i64, body: &str) -> String {
    // HMAC takes a key of any length: this never fails.
    let digest = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(unix_seconds.to_string().as_bytes());
            mac.update(b".");
            mac.update(body.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    };
    format!("t={unix_seconds},v1={digest}")
}

/// Sends one notification; what happened, for the queue.
pub async fn send(
    url: &str,
    secret: &str,
    event: &str,
    delivery: i64,
    body: &str,
    allow_private: bool,
) -> Outcome {
    let checked = match address::parse(url) {
        Ok(url) => url,
        Err(e) => return Outcome::Retry(None, e.to_string()),
    };
    let addrs = match address::resolve(&checked, allow_private).await {
        Ok(addrs) => addrs,
        Err(e) => return Outcome::Retry(None, e.to_string()),
    };
    let host = checked.host_str().unwrap_or_default().to_owned();
    let client = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(concat!("chargelog/", env!("CARGO_PKG_VERSION")))
        .resolve_to_addrs(&host, &addrs)
        .build()
    {
        Ok(client) => client,
        Err(e) => return Outcome::Retry(None, format!("no HTTP client: {e}")),
    };
    let now = crate::clock::now_ms() / 1000;
    let answer = client
        .post(checked)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("Chargelog-Signature", signature(secret, now, body))
        .header("Chargelog-Event", event)
        .header("Chargelog-Delivery", delivery.to_string())
        .body(body.to_owned())
        .send()
        .await;
    match answer {
        Ok(response) => {
            let status = response.status();
            if status.is_success() {
                Outcome::Delivered(status.as_u16())
            } else if status == reqwest::StatusCode::GONE {
                Outcome::Gone(status.as_u16())
            } else {
                Outcome::Retry(Some(status.as_u16()), format!("answered {status}"))
            }
        }
        Err(e) if e.is_timeout() => {
            Outcome::Retry(None, format!("no answer within {} s", TIMEOUT.as_secs()))
        }
        Err(e) if e.is_connect() => Outcome::Retry(None, format!("could not connect: {e}")),
        Err(e) => Outcome::Retry(None, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::signature;

    #[test]
    fn the_signature_covers_the_time_and_the_body() {
        // printf '1765000000.{"a":1}' | openssl dgst -sha256 -hmac whsec
        assert_eq!(
            signature("whsec", 1_765_000_000, r#"{"a":1}"#),
            "t=1765000000,v1=262419508e596ae3a699fa2c77b37d08926f6b23cb8852f41f20ac983eb4f1c6"
        );
        assert_ne!(
            signature("whsec", 1_765_000_001, r#"{"a":1}"#),
            signature("whsec", 1_765_000_000, r#"{"a":1}"#)
        );
    }
}
