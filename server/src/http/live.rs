//! Live updates: `GET /live` is a server-sent-event stream that announces every request
//! the webhook endpoint handled, after its commit.
//!
//! The source of truth is the `webhook_log` table, not this process's memory: one task
//! per process follows its ids, so a page served by one process hears about deliveries
//! that another process stored (several servers on one PostgreSQL). The webhook handler
//! wakes the task right after a commit, so in one process the delay is a query, not a poll.

use app::domain::events::LiveEvent;
use app::server::entities::webhook_log;
use app::wire::OpenAlerts;
use axum::extract::FromRef;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use std::collections::BTreeSet;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch, Notify};

/// How often the log is read when nothing woke the task (deliveries stored by other
/// processes are seen within this).
pub const POLL: Duration = Duration::from_millis(250);
/// Ids may commit out of order (PostgreSQL sequences); this many below the newest seen
/// are looked at again so a late commit is still announced. Ingest takes its log id
/// last, just before committing, so only ids taken within that short window can commit
/// late.
const LOOK_BACK: i64 = 256;
const BATCH: u64 = 1000;

pub struct LiveFeed {
    sender: broadcast::Sender<LiveEvent>,
    /// The open alerts as last read (`app::server::alerts::open_state`): every stream
    /// sends it on connecting and whenever it changes.
    alerts: watch::Sender<Option<OpenAlerts>>,
    wake: Notify,
    /// Set at shutdown: open streams end so the server can finish.
    closing: watch::Sender<bool>,
}

impl LiveFeed {
    pub fn new() -> Arc<Self> {
        let (sender, _) = broadcast::channel(1024);
        Arc::new(Self {
            sender,
            alerts: watch::Sender::new(None),
            wake: Notify::new(),
            closing: watch::Sender::new(false),
        })
    }

    /// Something was committed to the webhook log: look now.
    pub fn nudge(&self) {
        self.wake.notify_one();
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.sender.subscribe()
    }

    /// Ends every open stream (graceful shutdown waits for them otherwise).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }
}

/// How often the open alerts are read (they change with deliveries, with the background
/// evaluation on any process, and with acknowledgements).
pub const ALERTS_EVERY: Duration = Duration::from_secs(2);

type Row = (i64, String, Option<String>);

/// The log rows above `after`, oldest first.
async fn rows_after(db: &DatabaseConnection, after: i64) -> Result<Vec<Row>, DbErr> {
    webhook_log::Entity::find()
        .select_only()
        .columns([
            webhook_log::Column::Id,
            webhook_log::Column::Outcome,
            webhook_log::Column::VehicleId,
        ])
        .filter(webhook_log::Column::Id.gt(after))
        .order_by_asc(webhook_log::Column::Id)
        .limit(BATCH)
        .into_tuple::<Row>()
        .all(db)
        .await
}

async fn newest_id(db: &DatabaseConnection) -> Result<i64, DbErr> {
    let max: Option<Option<i64>> = webhook_log::Entity::find()
        .select_only()
        .column_as(webhook_log::Column::Id.max(), "max")
        .into_tuple()
        .one(db)
        .await?;
    Ok(max.flatten().unwrap_or(0))
}

/// What is already in the log at start-up is history, not news.
async fn prime(db: &DatabaseConnection) -> Result<(i64, BTreeSet<i64>), DbErr> {
    let newest = newest_id(db).await?;
    let seen = rows_after(db, newest - LOOK_BACK)
        .await?
        .into_iter()
        .map(|(id, _, _)| id)
        .collect();
    Ok((newest, seen))
}

/// Follows the webhook log and broadcasts each new row once.
pub async fn run(feed: Arc<LiveFeed>, db: DatabaseConnection) {
    let (mut newest, mut seen) = loop {
        match prime(&db).await {
            Ok(primed) => break primed,
            Err(err) => {
                tracing::warn!(error = %err, "live updates: cannot read the webhook log yet");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    };
    let mut full = false;
    let mut alerts_read = tokio::time::Instant::now() - ALERTS_EVERY;
    loop {
        if alerts_read.elapsed() >= ALERTS_EVERY {
            alerts_read = tokio::time::Instant::now();
            match app::server::alerts::open_state(&db).await {
                Ok(state) => {
                    feed.alerts.send_if_modified(|seen| {
                        let changed = seen.as_ref() != Some(&state);
                        *seen = Some(state);
                        changed
                    });
                }
                Err(err) => {
                    tracing::debug!(error = %err, "live updates: reading open alerts failed")
                }
            }
        }
        // A full batch means more are waiting: read on at once.
        if !full {
            tokio::select! {
                () = feed.wake.notified() => {},
                () = tokio::time::sleep(POLL) => {},
            }
        }
        let rows = match rows_after(&db, newest - LOOK_BACK).await {
            Ok(rows) => rows,
            Err(err) => {
                tracing::debug!(error = %err, "live updates: reading the webhook log failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        full = rows.len() as u64 == BATCH;
        for (id, outcome, vehicle_id) in rows {
            if seen.insert(id) {
                // No receivers is fine: nobody is watching.
                let _ = feed.sender.send(LiveEvent {
                    id,
                    outcome,
                    vehicle_id,
                });
            }
            newest = newest.max(id);
        }
        seen = seen.split_off(&(newest - LOOK_BACK));
    }
}

/// `/live`, for logged-in operators.
pub fn routes<S>() -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<LiveFeed>: FromRef<S>,
{
    axum::Router::new().route("/live", axum::routing::get(stream))
}

fn alerts_event(state: &OpenAlerts) -> Event {
    Event::default().event("alerts").data(state.encode())
}

/// `GET /live`: `delivery` events with a [`LiveEvent`] as JSON; `resync` when this
/// client fell behind and should reload everything; `alerts` with the open alerts
/// (`OpenAlerts::encode`) on connecting and whenever they change.
async fn stream(
    State(feed): State<Arc<LiveFeed>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let receiver = feed.subscribe();
    let closing = feed.closing.subscribe();
    let mut alerts = feed.alerts.subscribe();
    let first_alerts = alerts.borrow_and_update().as_ref().map(alerts_event);
    let hello = Event::default()
        .event("hello")
        .retry(Duration::from_secs(2))
        .data("live");
    let updates = futures::stream::unfold(
        (receiver, closing, alerts),
        |(mut receiver, mut closing, mut alerts)| async move {
            enum Next {
                Delivery(Result<LiveEvent, broadcast::error::RecvError>),
                Alerts(bool),
                Closing,
            }
            let next = tokio::select! {
                received = receiver.recv() => Next::Delivery(received),
                changed = alerts.changed() => Next::Alerts(changed.is_ok()),
                _ = closing.wait_for(|closed| *closed) => Next::Closing,
            };
            let event = match next {
                Next::Closing | Next::Alerts(false) => return None,
                Next::Alerts(true) => alerts
                    .borrow_and_update()
                    .as_ref()
                    .map_or_else(|| Event::default().comment("alerts"), alerts_event),
                Next::Delivery(Ok(live)) => Event::default()
                    .event("delivery")
                    .json_data(&live)
                    .unwrap_or_else(|_| Event::default().event("resync").data("encoding")),
                Next::Delivery(Err(broadcast::error::RecvError::Lagged(_))) => {
                    Event::default().event("resync").data("lagged")
                }
                Next::Delivery(Err(broadcast::error::RecvError::Closed)) => return None,
            };
            Some((Ok(event), (receiver, closing, alerts)))
        },
    );
    let opening = futures::stream::iter(
        std::iter::once(hello)
            .chain(first_alerts)
            .map(Ok::<Event, Infallible>),
    );
    let stream = futures::StreamExt::chain(opening, updates);
    Sse::new(stream).keep_alive(KeepAlive::default())
}
