//! A notification by e-mail: the alert in a few plain lines, to the configured
//! recipients, through the configured SMTP server (`lettre`).

use super::Outcome;
use crate::config::{SmtpSettings, SmtpTls};
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use std::time::Duration;

/// The whole exchange with the SMTP server.
pub const TIMEOUT: Duration = Duration::from_secs(20);

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
}

impl Mailer {
    pub fn new(settings: &SmtpSettings) -> Result<Mailer, String> {
        let builder = match settings.tls {
            SmtpTls::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&settings.host)
                    .map_err(|e| e.to_string())?
            }
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&settings.host)
                .map_err(|e| e.to_string())?,
            SmtpTls::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            }
        };
        let mut builder = builder.port(settings.port).timeout(Some(TIMEOUT));
        if let Some((user, password)) = &settings.credentials {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose_secret().to_owned(),
            ));
        }
        let mailbox = |text: &str| {
            text.parse::<Mailbox>()
                .map_err(|e| format!("{text:?}: {e}"))
        };
        Ok(Mailer {
            transport: builder.build(),
            from: mailbox(&settings.from)?,
            to: settings
                .to
                .iter()
                .map(|t| mailbox(t))
                .collect::<Result<_, _>>()?,
        })
    }

    /// Sends the notification whose queued JSON is `body`.
    pub async fn send(&self, event: &str, body: &str) -> Outcome {
        let (subject, text) = letter(event, body);
        let mut message = Message::builder().from(self.from.clone()).subject(subject);
        for to in &self.to {
            message = message.to(to.clone());
        }
        let message = match message.header(ContentType::TEXT_PLAIN).body(text) {
            Ok(message) => message,
            Err(e) => return Outcome::Retry(None, format!("could not write the e-mail: {e}")),
        };
        match self.transport.send(message).await {
            Ok(response) => Outcome::Delivered(u16::from(response.code())),
            Err(e) => Outcome::Retry(e.status().map(u16::from), e.to_string()),
        }
    }
}

/// The subject and text of the e-mail for a queued notification.
pub fn letter(event: &str, body: &str) -> (String, String) {
    let value: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let alert = &value["alert"];
    let text = |key: &str| alert[key].as_str().unwrap_or_default().to_owned();
    let kind = app::domain::alerts::Kind::parse(&text("kind"));
    let label = kind.map_or("Alert", |k| k.label());
    let vehicle = alert["name"].as_str().map_or_else(
        || text("vehicle_id"),
        |n| format!("{n} ({})", text("vehicle_id")),
    );
    let what = if event == app::server::notifications::RESOLVED {
        "resolved"
    } else {
        "opened"
    };
    let subject = format!("[chargelog] {label} {what}: {vehicle}");
    let mut lines = vec![
        format!("{label}, {what}."),
        String::new(),
        format!("Vehicle: {vehicle}"),
        format!("What: {}", text("summary")),
        format!("Opened: {}", text("opened_at")),
    ];
    if let Some(resolved) = alert["resolved_at"].as_str() {
        lines.push(format!("Resolved: {resolved}"));
    }
    if let Some(note) = alert["note"].as_str() {
        lines.push(format!("Note: {note}"));
    }
    lines.push(String::new());
    lines.push(format!(
        "Alert {} on the alerts page of chargelog.",
        alert["id"]
    ));
    (subject, lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::letter;

    #[test]
    fn a_letter_says_what_and_which_vehicle() {
        let body = r#"{"type":"alert.opened","alert":{"id":7,"vehicle_id":"v-1","name":"KIA EV6 2024",
            "kind":"vehicle_silent","summary":"nothing heard since 2026-12-07T01:00:00Z",
            "opened_at":"2026-12-07T07:00:00Z","resolved_at":null,"note":null}}"#;
        let (subject, text) = letter("alert.opened", body);
        assert_eq!(subject, "[chargelog] Silent opened: KIA EV6 2024 (v-1)");
        assert!(
            text.contains("What: nothing heard since 2026-12-07T01:00:00Z"),
            "{text}"
        );
        assert!(text.contains("Alert 7 "), "{text}");
    }
}
