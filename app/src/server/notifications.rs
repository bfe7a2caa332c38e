//! Alert notifications in the database: the endpoints they go to, and the queue. Each
//! alert event (opened, resolved) is queued once, one notification per endpoint, from
//! the alert's own row ([`queue_alerts`]); the server's sender (`server::notify`)
//! delivers them, retrying, and logs every attempt.

use super::entities::{alerts, notification_attempts, notifications, notify_endpoints};
use crate::wire::{AlertItem, NotifyAttempt, NotifyEndpoint};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde_json::json;
use std::collections::HashMap;

pub const OPENED: &str = "alert.opened";
pub const RESOLVED: &str = "alert.resolved";

/// Attempts shown per page of an endpoint's delivery log.
pub const LOG_PAGE: u64 = 25;

fn at(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

/// The endpoints notifications go to now.
pub async fn active(db: &impl ConnectionTrait) -> Result<Vec<notify_endpoints::Model>, DbErr> {
    notify_endpoints::Entity::find()
        .filter(notify_endpoints::Column::RemovedAt.is_null())
        .order_by_asc(notify_endpoints::Column::Id)
        .all(db)
        .await
}

/// The JSON a receiver gets for `event` about `alert`.
pub fn body(event: &str, alert: &AlertItem, now: DateTime<Utc>) -> String {
    json!({
        "id": format!("{event}:{}", alert.id),
        "type": event,
        "created_at": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "alert": alert,
    })
    .to_string()
}

/// Alerts whose events are queued per pass of [`queue_alerts`].
const QUEUE_BATCH: u64 = 100;

/// Queues a notification to every endpoint in use for each alert event not queued yet
/// (an alert opened, an alert resolved), and marks it queued, in one transaction per
/// alert: a crash queues nothing or all of it, and of two processes that race for the
/// same alert only one claims it. Returns how many notifications were queued.
pub async fn queue_alerts(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<usize, DbErr> {
    let due = alerts::Entity::find()
        .filter(
            Condition::any()
                .add(alerts::Column::Queued.eq(alerts::QUEUED_NONE))
                .add(
                    Condition::all()
                        .add(alerts::Column::Queued.eq(alerts::QUEUED_OPENED))
                        .add(alerts::Column::State.eq(alerts::RESOLVED)),
                ),
        )
        .order_by_asc(alerts::Column::Id)
        .limit(QUEUE_BATCH)
        .all(db)
        .await?;
    let mut queued = 0;
    for alert in due {
        let txn = super::begin_write(db).await?;
        let target = if alert.state == alerts::RESOLVED {
            alerts::QUEUED_RESOLVED
        } else {
            alerts::QUEUED_OPENED
        };
        let claimed = alerts::Entity::update_many()
            .col_expr(alerts::Column::Queued, Expr::value(target))
            .filter(alerts::Column::Id.eq(alert.id))
            .filter(alerts::Column::Queued.eq(alert.queued))
            .exec(&txn)
            .await?;
        if claimed.rows_affected != 1 {
            txn.rollback().await?;
            continue;
        }
        let mut events = Vec::new();
        if alert.queued < alerts::QUEUED_OPENED {
            events.push(OPENED);
        }
        if target == alerts::QUEUED_RESOLVED {
            events.push(RESOLVED);
        }
        let endpoints = active(&txn).await?;
        let item = super::alerts::item(&txn, alert.id).await?;
        if let Some(item) = item.filter(|_| !endpoints.is_empty()) {
            let now_ms = now.timestamp_millis();
            let rows: Vec<notifications::ActiveModel> = events
                .iter()
                .flat_map(|event| {
                    let body = body(event, &item, now);
                    endpoints
                        .iter()
                        .map(move |endpoint| notifications::ActiveModel {
                            endpoint_id: Set(endpoint.id),
                            alert_id: Set(item.id),
                            event: Set((*event).to_owned()),
                            body: Set(body.clone()),
                            state: Set(notifications::PENDING.to_owned()),
                            created_at: Set(now_ms),
                            due_at: Set(now_ms),
                            attempts: Set(0),
                            ..Default::default()
                        })
                })
                .collect();
            queued += rows.len();
            notifications::Entity::insert_many(rows)
                .exec_without_returning(&txn)
                .await?;
        }
        txn.commit().await?;
    }
    Ok(queued)
}

/// Adds a webhook endpoint (the URL already checked by the caller).
pub async fn add_webhook(
    db: &impl ConnectionTrait,
    name: &str,
    url: &str,
    secret: &str,
) -> Result<notify_endpoints::Model, DbErr> {
    notify_endpoints::Entity::insert(notify_endpoints::ActiveModel {
        kind: Set(notify_endpoints::WEBHOOK.to_owned()),
        name: Set(name.to_owned()),
        url: Set(url.to_owned()),
        secret: Set(secret.to_owned()),
        created_at: Set(Utc::now().timestamp_millis()),
        ..Default::default()
    })
    .exec_with_returning(db)
    .await
}

/// Removes an endpoint (its log stays) and gives up what was queued for it. `false` if
/// there is no such endpoint in use.
pub async fn remove(db: &impl ConnectionTrait, id: i64, reason: &str) -> Result<bool, DbErr> {
    let now = Utc::now().timestamp_millis();
    let removed = notify_endpoints::Entity::update_many()
        .col_expr(notify_endpoints::Column::RemovedAt, Expr::value(now))
        .col_expr(notify_endpoints::Column::RemovedReason, Expr::value(reason))
        .filter(notify_endpoints::Column::Id.eq(id))
        .filter(notify_endpoints::Column::RemovedAt.is_null())
        .exec(db)
        .await?;
    notifications::Entity::update_many()
        .col_expr(
            notifications::Column::State,
            Expr::value(notifications::GONE),
        )
        .col_expr(notifications::Column::DoneAt, Expr::value(now))
        .filter(notifications::Column::EndpointId.eq(id))
        .filter(notifications::Column::State.eq(notifications::PENDING))
        .exec(db)
        .await?;
    Ok(removed.rows_affected == 1)
}

/// Makes the e-mail endpoint match the server's SMTP configuration: `recipients` (as
/// `mailto:a@x,b@y`) when configured, none otherwise.
pub async fn sync_email(db: &impl ConnectionTrait, recipients: Option<&str>) -> Result<(), DbErr> {
    let current = notify_endpoints::Entity::find()
        .filter(notify_endpoints::Column::Kind.eq(notify_endpoints::EMAIL))
        .filter(notify_endpoints::Column::RemovedAt.is_null())
        .all(db)
        .await?;
    let mut kept = false;
    for endpoint in current {
        if recipients == Some(endpoint.url.as_str()) && !kept {
            kept = true;
        } else {
            remove(db, endpoint.id, "unconfigured").await?;
        }
    }
    if let (Some(url), false) = (recipients, kept) {
        notify_endpoints::Entity::insert(notify_endpoints::ActiveModel {
            kind: Set(notify_endpoints::EMAIL.to_owned()),
            name: Set("E-mail".to_owned()),
            url: Set(url.to_owned()),
            secret: Set(String::new()),
            created_at: Set(Utc::now().timestamp_millis()),
            ..Default::default()
        })
        .exec_without_returning(db)
        .await?;
    }
    Ok(())
}

/// Every endpoint, in use first, with how its notifications stand.
pub async fn endpoints(db: &impl ConnectionTrait) -> Result<Vec<NotifyEndpoint>, DbErr> {
    let rows = notify_endpoints::Entity::find()
        .order_by_asc(notify_endpoints::Column::RemovedAt.is_not_null())
        .order_by_asc(notify_endpoints::Column::Id)
        .all(db)
        .await?;
    let counts: Vec<(i64, String, i64)> = notifications::Entity::find()
        .select_only()
        .column(notifications::Column::EndpointId)
        .column(notifications::Column::State)
        .column_as(notifications::Column::Id.count(), "n")
        .group_by(notifications::Column::EndpointId)
        .group_by(notifications::Column::State)
        .into_tuple()
        .all(db)
        .await?;
    let mut by: HashMap<(i64, String), u64> = HashMap::new();
    for (endpoint, state, n) in counts {
        by.insert((endpoint, state), u64::try_from(n).unwrap_or(0));
    }
    let count = |id: i64, state: &str| by.get(&(id, state.to_owned())).copied().unwrap_or(0);
    Ok(rows
        .into_iter()
        .map(|row| NotifyEndpoint {
            pending: count(row.id, notifications::PENDING),
            delivered: count(row.id, notifications::DELIVERED),
            failed: count(row.id, notifications::FAILED) + count(row.id, notifications::GONE),
            created_at: at(row.created_at).unwrap_or_default(),
            removed_at: row.removed_at.and_then(at),
            id: row.id,
            kind: row.kind,
            name: row.name,
            url: row.url,
            secret: row.secret,
            removed_reason: row.removed_reason,
        })
        .collect())
}

/// An endpoint's delivery log, newest first, before attempt `before`; and where the next
/// page starts.
pub async fn attempts(
    db: &impl ConnectionTrait,
    endpoint: i64,
    before: Option<i64>,
) -> Result<(Vec<NotifyAttempt>, Option<i64>), DbErr> {
    let mut query = notification_attempts::Entity::find()
        .filter(notification_attempts::Column::EndpointId.eq(endpoint))
        .order_by_desc(notification_attempts::Column::Id)
        .limit(LOG_PAGE + 1);
    if let Some(before) = before {
        query = query.filter(notification_attempts::Column::Id.lt(before));
    }
    let mut rows = query.all(db).await?;
    let more = rows.len() as u64 > LOG_PAGE;
    rows.truncate(LOG_PAGE as usize);
    let next = more.then(|| rows.last().map(|r| r.id)).flatten();
    let ids: Vec<i64> = rows.iter().map(|r| r.notification_id).collect();
    let about: HashMap<i64, (String, i64)> = notifications::Entity::find()
        .select_only()
        .column(notifications::Column::Id)
        .column(notifications::Column::Event)
        .column(notifications::Column::AlertId)
        .filter(notifications::Column::Id.is_in(ids))
        .into_tuple::<(i64, String, i64)>()
        .all(db)
        .await?
        .into_iter()
        .map(|(id, event, alert)| (id, (event, alert)))
        .collect();
    Ok((
        rows.into_iter()
            .map(|row| {
                let (event, alert_id) =
                    about.get(&row.notification_id).cloned().unwrap_or_default();
                NotifyAttempt {
                    id: row.id,
                    notification_id: row.notification_id,
                    at: at(row.at).unwrap_or_default(),
                    event,
                    alert_id,
                    status: row.status,
                    error: row.error,
                    duration_ms: row.duration_ms,
                }
            })
            .collect(),
        next,
    ))
}
