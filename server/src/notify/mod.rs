//! Alert notifications, sent in the background by every server process: each second it
//! queues the alert events not queued yet (`app::server::notifications::queue_alerts`)
//! and sends what is due. A notification is leased before it is sent, so two processes
//! never send it at the same time; it is retried with growing waits (doubling from
//! `CHARGELOG_NOTIFY_FIRST_RETRY_SECONDS` up to an hour, with jitter) for 24 hours, and
//! every attempt is logged. Delivery is at least once: a process that dies between a
//! receiver's answer and writing it down leaves the notification to be sent again when
//! its lease ends (receivers tell repeats by `Chargelog-Delivery`).

pub mod address;
pub mod email;
pub mod webhook;

use crate::config::NotifySettings;
use app::server::entities::{notification_attempts, notifications, notify_endpoints};
use app::server::notifications::{queue_alerts, remove};
use sea_orm::sea_query::Expr;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use std::time::{Duration, Instant};

/// How often the queue is looked at.
pub const EVERY: Duration = Duration::from_secs(1);
/// How long a sender holds a notification (well above the longest attempt).
const LEASE: Duration = Duration::from_secs(60);
/// Notifications sent per pass, at most.
const BATCH: u64 = 20;
/// How long a notification is retried.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(24 * 3600);
/// The longest wait between two attempts.
pub const MAX_WAIT: Duration = Duration::from_secs(3600);
/// Longest error text kept in the log.
const MAX_ERROR_CHARS: usize = 300;

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver took it (its status).
    Delivered(u16),
    /// The receiver answered 410 Gone: it wants no more; the endpoint is removed.
    Gone(u16),
    /// Try again later: the status if there was an answer, and what went wrong.
    Retry(Option<u16>, String),
}

/// The wait before attempt `attempts + 1`, after `attempts` failed ones: `first`
/// doubled each time, at most [`MAX_WAIT`], times a jitter between 0.75 and 1.25 (so
/// that many notifications failing together do not retry together).
pub fn next_wait(first: Duration, attempts: u32, jitter: f64) -> Duration {
    let doubled = first.saturating_mul(2_u32.saturating_pow(attempts.saturating_sub(1).min(30)));
    doubled
        .min(MAX_WAIT)
        .mul_f64(0.75 + 0.5 * jitter.clamp(0.0, 1.0))
}

/// The sender: notifications and the e-mail transport.
pub struct Sender {
    db: DatabaseConnection,
    settings: NotifySettings,
    mailer: Option<email::Mailer>,
}

impl Sender {
    /// A sender for this process; makes the e-mail endpoint match the configuration.
    pub async fn new(db: DatabaseConnection, settings: NotifySettings) -> Result<Sender, String> {
        let mailer = settings.smtp.as_ref().map(email::Mailer::new).transpose()?;
        let recipients = settings
            .smtp
            .as_ref()
            .map(crate::config::SmtpSettings::mailto);
        app::server::notifications::sync_email(&db, recipients.as_deref())
            .await
            .map_err(|e| format!("could not record the e-mail endpoint: {e}"))?;
        Ok(Sender {
            db,
            settings,
            mailer,
        })
    }

    /// Queues new alert events and sends what is due, once; how many were attempted.
    pub async fn pass(&self) -> Result<usize, DbErr> {
        let now = crate::clock::now().to_datetime();
        queue_alerts(&self.db, now).await?;
        let claimed = self.claim().await?;
        let attempted = claimed.len();
        for notification in claimed {
            self.attempt(notification).await?;
        }
        Ok(attempted)
    }

    /// Leases up to [`BATCH`] due notifications.
    async fn claim(&self) -> Result<Vec<notifications::Model>, DbErr> {
        use notifications::Column as C;
        let now = crate::clock::now_ms();
        let free = || {
            Condition::any()
                .add(C::LeasedUntil.is_null())
                .add(C::LeasedUntil.lt(now))
        };
        let due = notifications::Entity::find()
            .filter(C::State.eq(notifications::PENDING))
            .filter(C::DueAt.lte(now))
            .filter(free())
            .order_by_asc(C::DueAt)
            .limit(BATCH)
            .all(&self.db)
            .await?;
        let mut claimed = Vec::with_capacity(due.len());
        for notification in due {
            let leased = notifications::Entity::update_many()
                .col_expr(C::LeasedUntil, Expr::value(now + LEASE.as_millis() as i64))
                .filter(C::Id.eq(notification.id))
                .filter(C::State.eq(notifications::PENDING))
                .filter(free())
                .exec(&self.db)
                .await?;
            if leased.rows_affected == 1 {
                claimed.push(notification);
            }
        }
        Ok(claimed)
    }

    async fn attempt(&self, notification: notifications::Model) -> Result<(), DbErr> {
        let endpoint = notify_endpoints::Entity::find_by_id(notification.endpoint_id)
            .one(&self.db)
            .await?;
        let started = Instant::now();
        let outcome = match &endpoint {
            Some(e) if e.removed_at.is_some() => Outcome::Gone(0),
            None => Outcome::Gone(0),
            Some(e) if e.kind == notify_endpoints::EMAIL => match &self.mailer {
                Some(mailer) => mailer.send(&notification.event, &notification.body).await,
                None => Outcome::Retry(None, "e-mail is not configured on this process".into()),
            },
            Some(e) => {
                webhook::send(
                    &e.url,
                    &e.secret,
                    &notification.event,
                    notification.id,
                    &notification.body,
                    self.settings.allow_private,
                )
                .await
            }
        };
        let took = started.elapsed();
        self.record(&notification, &outcome, took).await
    }

    /// Logs the attempt and moves the notification on.
    async fn record(
        &self,
        notification: &notifications::Model,
        outcome: &Outcome,
        took: Duration,
    ) -> Result<(), DbErr> {
        use notifications::Column as C;
        let now = crate::clock::now_ms();
        let (status, error) = match outcome {
            Outcome::Delivered(s) => (Some(*s), None),
            Outcome::Gone(s) => (
                (*s > 0).then_some(*s),
                Some("the receiver is gone (410), or the endpoint was removed".to_owned()),
            ),
            Outcome::Retry(s, e) => (*s, Some(e.chars().take(MAX_ERROR_CHARS).collect())),
        };
        notification_attempts::Entity::insert(notification_attempts::ActiveModel {
            notification_id: Set(notification.id),
            endpoint_id: Set(notification.endpoint_id),
            at: Set(now),
            status: Set(status.map(i32::from)),
            error: Set(error.clone()),
            duration_ms: Set(took.as_millis() as i64),
            ..Default::default()
        })
        .exec_without_returning(&self.db)
        .await?;
        let attempts = notification.attempts + 1;
        let mut update = notifications::Entity::update_many()
            .col_expr(C::Attempts, Expr::value(attempts))
            .col_expr(C::LastStatus, Expr::value(status.map(i32::from)))
            .col_expr(C::LastError, Expr::value(error))
            .col_expr(C::LeasedUntil, Expr::value(Option::<i64>::None))
            .filter(C::Id.eq(notification.id))
            .filter(C::State.eq(notifications::PENDING));
        match outcome {
            Outcome::Delivered(_) => {
                update = update
                    .col_expr(C::State, Expr::value(notifications::DELIVERED))
                    .col_expr(C::DoneAt, Expr::value(now));
            }
            Outcome::Gone(_) => {
                update = update
                    .col_expr(C::State, Expr::value(notifications::GONE))
                    .col_expr(C::DoneAt, Expr::value(now));
            }
            Outcome::Retry(..) => {
                let wait = next_wait(
                    self.settings.first_retry,
                    u32::try_from(attempts).unwrap_or(u32::MAX),
                    fastrand::f64(),
                );
                let next = now + wait.as_millis() as i64;
                if next > notification.created_at + GIVE_UP_AFTER.as_millis() as i64 {
                    update = update
                        .col_expr(C::State, Expr::value(notifications::FAILED))
                        .col_expr(C::DoneAt, Expr::value(now));
                } else {
                    update = update.col_expr(C::DueAt, Expr::value(next));
                }
            }
        }
        update.exec(&self.db).await?;
        if let Outcome::Gone(status) = outcome {
            if *status > 0 {
                tracing::warn!(
                    endpoint = notification.endpoint_id,
                    "a notification receiver answered 410 Gone; its endpoint is removed"
                );
                remove(&self.db, notification.endpoint_id, "gone").await?;
            }
        }
        Ok(())
    }
}

/// The background sender: a pass every second, for as long as the server runs.
pub async fn run(sender: Sender) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match sender.pass().await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(notifications = n, "sent notifications"),
            Err(err) => tracing::warn!(error = %err, "sending notifications failed; will retry"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_to_an_hour_with_jitter() {
        let first = Duration::from_secs(30);
        assert_eq!(next_wait(first, 1, 0.5), Duration::from_secs(30));
        assert_eq!(next_wait(first, 2, 0.5), Duration::from_secs(60));
        assert_eq!(next_wait(first, 5, 0.5), Duration::from_secs(480));
        assert_eq!(next_wait(first, 12, 0.5), MAX_WAIT);
        assert_eq!(next_wait(first, 1_000, 0.5), MAX_WAIT);
        assert_eq!(next_wait(first, 1, 0.0), Duration::from_secs_f64(22.5));
        assert_eq!(next_wait(first, 1, 1.0), Duration::from_secs_f64(37.5));
        // 24 hours of retries from 30 s: about 30 attempts.
        let mut elapsed = Duration::ZERO;
        let mut attempts = 0;
        while elapsed < GIVE_UP_AFTER {
            attempts += 1;
            elapsed += next_wait(first, attempts, 0.5);
        }
        assert!((28..=32).contains(&attempts), "{attempts}");
    }
}
