//! Sending deliveries to a chargelog (or any receiver) as Smartcar does: signed, at a
//! rate, several at once; or writing them out as JSON lines.

use super::Delivery;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct SendOptions {
    pub url: String,
    /// Deliveries a second at most; `None` for as fast as the receiver answers.
    pub rate: Option<u32>,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Show a progress bar (on a terminal).
    pub progress: bool,
    /// Attempts per delivery that is refused or fails (Smartcar makes four).
    pub attempts: u32,
}

/// What happened to the deliveries.
#[derive(Debug, Default)]
pub struct SendReport {
    pub sent: usize,
    pub accepted: usize,
    /// Deliveries that never got a 2xx, with the last answer.
    pub failed: Vec<(String, String)>,
    /// Extra attempts made after a failure.
    pub retried: usize,
    /// Milliseconds per accepted request (the attempt that succeeded).
    pub latencies_ms: Vec<f64>,
    pub elapsed: Duration,
}

impl SendReport {
    /// The `p`th percentile latency (0–100), ms.
    pub fn percentile(&self, p: f64) -> f64 {
        let mut sorted = self.latencies_ms.clone();
        sorted.sort_by(f64::total_cmp);
        if sorted.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
        sorted[rank.min(sorted.len() - 1)]
    }

    pub fn per_second(&self) -> f64 {
        self.accepted as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

enum Outcome {
    Accepted(f64, u32),
    Failed(String, u32),
}

/// When each request may leave, for a steady `rate` a second: one every `1/rate` s, and
/// after a pause (every request in flight, waiting for answers) at most a hundredth of a
/// second's requests at once, so a pause of the receiver is not made up for by a flood.
struct Pacer {
    every: Duration,
    burst: Duration,
    next: Option<Instant>,
}

impl Pacer {
    fn new(rate: u32) -> Self {
        let every = Duration::from_secs(1) / rate;
        Pacer {
            every,
            burst: (Duration::from_millis(10)).max(every),
            next: None,
        }
    }

    /// When the next request may leave, asked at `now`.
    fn next(&mut self, now: Instant) -> Instant {
        let earliest = now.checked_sub(self.burst).unwrap_or(now);
        let due = self.next.map_or(now, |next| next.max(earliest));
        self.next = Some(due + self.every);
        due
    }
}

/// Signs each body with `sign` (what goes in `SC-Signature`: the receiver's HMAC of the
/// raw bytes) and posts every delivery; a failed one is tried again (after 0.2, 1 and
/// 3 s) up to `attempts` times, the way Smartcar retries.
pub async fn send(
    deliveries: &[Delivery],
    sign: impl Fn(&[u8]) -> String + Send + Sync,
    options: &SendOptions,
) -> Result<SendReport, reqwest::Error> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .pool_max_idle_per_host(options.concurrency)
        .build()?;
    let bar = if options.progress {
        let bar = ProgressBar::new(deliveries.len() as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:40} {pos}/{len} deliveries  {per_sec}  {elapsed} elapsed, about {eta} left",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let attempts = options.attempts.max(1);
    // Each request is an owned future, so the whole run can be spawned on the runtime.
    // Indexed rather than iterated: a closure over `&Delivery` is higher-ranked, and the
    // compiler then cannot prove the run `Send`.
    let requests = (0..deliveries.len()).map(|i| {
        let delivery = &deliveries[i];
        let client = client.clone();
        let bar = bar.clone();
        let url = options.url.clone();
        let body = delivery.body.clone();
        let signature = sign(body.as_bytes());
        async move {
            let mut last = String::new();
            for attempt in 0..attempts {
                if attempt > 0 {
                    let wait = [200, 1_000, 3_000][(attempt as usize - 1).min(2)];
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                }
                let sent = Instant::now();
                let answer = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("sc-signature", &signature)
                    .body(body.clone())
                    .send()
                    .await;
                match answer {
                    Ok(r) if r.status().is_success() => {
                        // Read the answer so the connection can be reused.
                        let _ = r.bytes().await;
                        bar.inc(1);
                        let ms = sent.elapsed().as_secs_f64() * 1000.0;
                        return (i, Outcome::Accepted(ms, attempt));
                    }
                    Ok(r) => {
                        let status = r.status();
                        let text = r.text().await.unwrap_or_default();
                        last = format!("{status} {}", text.chars().take(200).collect::<String>());
                    }
                    Err(err) => last = err.to_string(),
                }
            }
            bar.inc(1);
            (i, Outcome::Failed(last, attempts - 1))
        }
    });
    // Each request leaves on a tick of the pacer: one timer, in this stream, rather
    // than one per request waiting to be let through.
    let pacer = options.rate.filter(|r| *r > 0).map(Pacer::new);
    let ticks = futures::stream::unfold(pacer, |mut pacer| async move {
        if let Some(due) = pacer.as_mut().map(|p| p.next(Instant::now())) {
            tokio::time::sleep_until(due.into()).await;
        }
        Some(((), pacer))
    });
    let paced = futures::stream::iter(requests)
        .zip(ticks)
        .map(|(request, ())| request);
    let started = Instant::now();
    let outcomes: Vec<(usize, Outcome)> = paced
        .buffer_unordered(options.concurrency.max(1))
        .collect()
        .await;
    bar.finish_and_clear();
    let mut report = SendReport {
        sent: deliveries.len(),
        elapsed: started.elapsed(),
        ..SendReport::default()
    };
    for (i, outcome) in outcomes {
        match outcome {
            Outcome::Accepted(ms, retries) => {
                report.accepted += 1;
                report.retried += retries as usize;
                report.latencies_ms.push(ms);
            }
            Outcome::Failed(why, retries) => {
                report.retried += retries as usize;
                report.failed.push((deliveries[i].event_id.clone(), why));
            }
        }
    }
    Ok(report)
}

/// Writes each body on its own line, in arrival order (sign each line's bytes to replay).
pub fn write_lines(
    deliveries: &[Delivery],
    out: &mut (impl std::io::Write + ?Sized),
) -> std::io::Result<()> {
    for delivery in deliveries {
        out.write_all(delivery.body.as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pacer_spaces_requests_by_the_rate() {
        let mut pacer = Pacer::new(1_000);
        let start = Instant::now();
        let dues: Vec<Duration> = (0..5).map(|_| pacer.next(start) - start).collect();
        let ms = Duration::from_millis;
        assert_eq!(dues, [ms(0), ms(1), ms(2), ms(3), ms(4)]);
    }

    /// After a pause (the receiver answered nothing for a second) the requests it held
    /// back are not sent at once: at most a hundredth of a second's, then the rate again.
    /// When `n` requests may leave, all asked for at once after one request and then a
    /// pause of `pause`; and how many of them may leave at once.
    fn after_pause(rate: u32, pause: Duration, n: usize) -> (Vec<Instant>, usize) {
        let mut pacer = Pacer::new(rate);
        let start = Instant::now();
        pacer.next(start);
        let later = start + pause;
        let dues: Vec<Instant> = (0..n).map(|_| pacer.next(later)).collect();
        let at_once = dues.iter().filter(|due| **due <= later).count();
        (dues, at_once)
    }

    #[test]
    fn after_a_pause_the_pacer_makes_up_only_a_hundredth_of_a_second() {
        let (dues, at_once) = after_pause(1_000, Duration::from_secs(1), 20);
        assert_eq!(
            at_once, 11,
            "10 ms of catching up at 1 ms each, and the one due now"
        );
        assert!(dues
            .windows(2)
            .all(|w| w[1] - w[0] == Duration::from_millis(1)));
    }

    #[test]
    fn at_a_slow_rate_the_pacer_makes_up_one_request_at_most() {
        let (dues, at_once) = after_pause(10, Duration::from_secs(5), 3);
        assert_eq!(at_once, 2);
        assert_eq!(dues[2] - dues[1], Duration::from_millis(100));
    }
}
