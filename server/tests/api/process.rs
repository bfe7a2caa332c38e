//! The `chargelog` binary as a child process, for tests that kill it or run several, and
//! a load driver that delivers simulated events to them as Smartcar would: each one
//! again until a 2xx, since an event is only safe once acknowledged.

use crate::helpers::{sign, TOKEN};
use sea_orm::DatabaseConnection;
use simulator::{Delivery, Noise, SimConfig, Simulation};
use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Sessions of the simulated history (which ends now) never go stale in these tests,
/// so a later `rederive` judges them exactly as the server did.
pub const STALE_AFTER_HOURS: f64 = 720.0;

pub fn engine() -> app::domain::sessions::EngineConfig {
    server::config::SessionArgs {
        merge_gap_minutes: 10.0,
        stale_after_hours: STALE_AFTER_HOURS,
    }
    .engine()
    .expect("valid session settings")
}

/// A random seed, or the one in the environment variable `replay`, so a failure (whose
/// message names its seed) can be run again.
pub fn seed(replay: &str) -> u64 {
    std::env::var(replay)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(1..1_000_000))
}

/// A simulated fleet's history that ends now, so no session in it is stale.
pub fn history_ending_now(vehicles: usize, days: f64, seed: u64, noise: Noise) -> Simulation {
    simulator::generate(&SimConfig {
        vehicles,
        days,
        seed,
        start_ms: chrono::Utc::now().timestamp_millis() - (days * 86_400_000.0) as i64,
        noise,
        misbehave: false,
    })
}

/// Connects as the server does (on SQLite, with the inbox attached, so that what waits
/// there counts as waiting).
pub async fn connect(url: &str) -> DatabaseConnection {
    let settings = server::config::DatabaseSettings::parse(url).unwrap();
    server::db::connect(&settings).await.unwrap()
}

/// Waits (at most 60 s) until the running servers have applied every stored delivery,
/// and checks none failed.
pub async fn all_applied(db: &DatabaseConnection, servers: &[&ServerProcess], seed: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while server::webhook::queue::count_waiting(db).await.unwrap() > 0 {
        assert!(
            Instant::now() < deadline,
            "seed {seed}: deliveries still wait after 60 s:\n{}",
            servers
                .iter()
                .map(|s| s.log_tail())
                .collect::<Vec<_>>()
                .join("\n---\n")
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let failed = crate::helpers::scalar_i64(
        db,
        "SELECT COUNT(*) FROM deliveries WHERE process_error IS NOT NULL",
    )
    .await;
    assert_eq!(failed, 0, "seed {seed}: deliveries failed to apply");
    // Every latest value points at a reading of its vehicle and signal (readings' ids
    // are matched to their rows by order, `apply::store_readings`).
    let astray = crate::helpers::scalar_i64(
        db,
        "SELECT COUNT(*) FROM vehicle_latest l LEFT JOIN signal_readings r \
         ON r.id = l.reading_id AND r.vehicle_id = l.vehicle_id AND r.code = l.code \
         WHERE r.id IS NULL",
    )
    .await;
    assert_eq!(
        astray, 0,
        "seed {seed}: latest values point at other readings"
    );
}

/// Asserts two session lists are equal, showing the first few that differ.
pub fn assert_same_sessions(
    left: &[app::server::entities::sessions::Model],
    right: &[app::server::entities::sessions::Model],
    what: &str,
) {
    // When each was last priced is bookkeeping, not what was derived.
    let unstamped = |s: &app::server::entities::sessions::Model| {
        let mut s = s.clone();
        s.pricing_due = None;
        s
    };
    let differ: Vec<_> = left
        .iter()
        .zip(right)
        .filter(|(a, b)| unstamped(a) != unstamped(b))
        .take(3)
        .collect();
    assert!(
        left.len() == right.len() && differ.is_empty(),
        "{what}: {} sessions against {}; first differences: {differ:#?}",
        left.len(),
        right.len()
    );
}

/// The binary under test: this build's, or another named by `CHARGELOG_TEST_BINARY`
/// (to run these tests against a release build, or an earlier version).
fn binary() -> PathBuf {
    std::env::var_os("CHARGELOG_TEST_BINARY").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_chargelog")),
        PathBuf::from,
    )
}

/// One running `chargelog serve`, killed when dropped.
pub struct ServerProcess {
    child: tokio::process::Child,
    pub addr: SocketAddr,
    log: PathBuf,
}

impl ServerProcess {
    /// Starts the binary on `database_url` and a free port, and waits until `/readyz`
    /// answers 200. Its log goes to a file in `dir`.
    pub async fn start(database_url: &str, dir: &Path) -> ServerProcess {
        Self::start_with(database_url, dir, &[]).await
    }

    /// [`ServerProcess::start`] with more environment variables.
    pub async fn start_with(database_url: &str, dir: &Path, env: &[(&str, &str)]) -> ServerProcess {
        // The free port is found by binding and letting go; should another process take
        // it in between, the server exits and the next port is tried.
        for _ in 0..3 {
            let addr = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port");
            let log = dir.join(format!("server-{}.log", addr.port()));
            let file = std::fs::File::create(&log).expect("log file");
            let child = tokio::process::Command::new(binary())
                .arg("serve")
                .env("DATABASE_URL", database_url)
                .env("SMARTCAR_MANAGEMENT_TOKEN", TOKEN)
                .env("LEPTOS_SITE_ADDR", addr.to_string())
                .env("LEPTOS_SITE_ROOT", dir.join("site"))
                .env("CHARGELOG_STALE_AFTER_HOURS", STALE_AFTER_HOURS.to_string())
                .env("RUST_LOG", "info,sqlx=warn,sea_orm=warn")
                .env_remove("CHARGELOG_DEMO")
                .envs(env.iter().copied())
                .stdin(std::process::Stdio::null())
                .stdout(file.try_clone().expect("log file"))
                .stderr(file)
                .kill_on_drop(true)
                .spawn()
                .expect("start the chargelog binary");
            let mut server = ServerProcess { child, addr, log };
            if server.wait_ready().await {
                return server;
            }
        }
        panic!("the server did not start on any of three ports");
    }

    /// Whether it became ready; false if it exited (its port was taken).
    async fn wait_ready(&mut self) -> bool {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().expect("child status") {
                if self.log_tail().contains("Address already in use") {
                    return false;
                }
                panic!("the server exited with {status}:\n{}", self.log_tail());
            }
            if let Ok(response) = client.get(self.url("/readyz")).send().await {
                if response.status() == 200 {
                    return true;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the server was not ready within 60 s:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// SIGKILL: no shutdown, no flush, requests in flight cut off.
    pub async fn kill(&mut self) {
        self.child.kill().await.expect("SIGKILL the server");
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The process's resident memory, in KiB (Linux).
    pub fn rss_kib(&self) -> u64 {
        let pid = self.child.id().expect("the server runs");
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .expect("/proc/<pid>/status")
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/<pid>/status")
    }

    /// The last lines the server logged, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

/// What delivering everything took.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Event ids that got a 2xx.
    pub acknowledged: HashSet<String>,
    /// Requests sent, retries included.
    pub requests: usize,
    /// Requests that got no answer (connection refused or cut) or a 5xx, then retried.
    pub retried: usize,
    /// Answers that are neither 2xx nor retryable: `(status, event id)`.
    pub refused: Vec<(u16, String)>,
}

/// Where requests go: one webhook URL per server, replaced when a server restarts.
pub type Targets = Arc<RwLock<Vec<String>>>;

/// Sends every delivery, `concurrency` at a time, each to a target chosen at random,
/// until each is acknowledged; a delivery that fails goes to the back of the queue, as
/// Smartcar's retry would send it later. `acknowledged` counts progress as it happens.
pub async fn deliver_all(
    deliveries: &[Delivery],
    targets: &Targets,
    concurrency: usize,
    seed: u64,
    acknowledged: &AtomicUsize,
) -> LoadReport {
    let signed: Vec<(String, String)> = deliveries
        .iter()
        .map(|d| (d.body.clone(), sign(d.body.as_bytes())))
        .collect();
    let queue: Mutex<VecDeque<usize>> = Mutex::new((0..deliveries.len()).collect());
    let report = Mutex::new(LoadReport::default());
    let remaining = AtomicUsize::new(deliveries.len());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let worker = |n: usize| {
        let (queue, report, remaining, client, signed) =
            (&queue, &report, &remaining, &client, &signed);
        let mut rng = fastrand::Rng::with_seed(seed.wrapping_add(n as u64));
        async move {
            loop {
                let next = queue.lock().unwrap().pop_front();
                let Some(i) = next else {
                    if remaining.load(Ordering::SeqCst) == 0 {
                        return;
                    }
                    // Others' deliveries may still fail and come back.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let url = {
                    let urls = targets.read().unwrap();
                    urls[rng.usize(0..urls.len())].clone()
                };
                let (body, signature) = &signed[i];
                let sent = client
                    .post(url)
                    .header("content-type", "application/json")
                    .header("sc-signature", signature)
                    .body(body.clone())
                    .send()
                    .await;
                let status = sent.map(|r| r.status().as_u16()).unwrap_or(0);
                let retry = {
                    let mut report = report.lock().unwrap();
                    report.requests += 1;
                    match status {
                        200..=299 => {
                            report.acknowledged.insert(deliveries[i].event_id.clone());
                            acknowledged.fetch_add(1, Ordering::SeqCst);
                            remaining.fetch_sub(1, Ordering::SeqCst);
                            false
                        }
                        0 | 500..=599 => {
                            report.retried += 1;
                            true
                        }
                        other => {
                            report.refused.push((other, deliveries[i].event_id.clone()));
                            remaining.fetch_sub(1, Ordering::SeqCst);
                            false
                        }
                    }
                };
                if retry {
                    queue.lock().unwrap().push_back(i);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    };
    futures::future::join_all((0..concurrency).map(worker)).await;
    report.into_inner().unwrap()
}

/// A PostgreSQL cluster of a test's own, which it may stop and start (the shared test
/// server must stay up for the tests running beside it). Removed when dropped.
pub struct PrivateCluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    pub port: u16,
}

impl PrivateCluster {
    /// `initdb` and start, as the `postgres` user when run as root (PostgreSQL refuses
    /// to run as root).
    pub async fn start() -> PrivateCluster {
        let initdb = glob_last("/usr/lib/postgresql", "bin/initdb")
            .expect("PostgreSQL's initdb under /usr/lib/postgresql");
        let bin = initdb.parent().unwrap().to_owned();
        let dir = tempfile::tempdir().unwrap();
        if as_root() {
            let mut chown = std::process::Command::new("chown");
            chown.arg("postgres:postgres").arg(dir.path());
            run(chown).await;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let cluster = PrivateCluster { bin, dir, port };
        let mut initdb = cluster.command("initdb");
        initdb
            .arg("-D")
            .arg(cluster.data())
            .args(["-A", "trust", "-U", "postgres"]);
        run(initdb).await;
        cluster.resume().await;
        cluster
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops at once, as a crash or a pulled cable would: no checkpoint, connections cut.
    pub async fn stop(&self) {
        let mut stop = self.command("pg_ctl");
        stop.arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"]);
        run(stop).await;
    }

    /// Starts (again) and waits until it accepts connections.
    pub async fn resume(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let mut start = self.command("pg_ctl");
        start
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.path().join("log"))
            .args(["-w", "-o", &options, "start"]);
        run(start).await;
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, tool: &str) -> std::process::Command {
        let path = self.bin.join(tool);
        if as_root() {
            let mut command = std::process::Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            std::process::Command::new(path)
        }
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

fn as_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.trim_ascii() == b"0")
        .unwrap_or(false)
}

/// Runs a tool to its end without blocking the test's other tasks.
async fn run(command: std::process::Command) {
    let output = tokio::process::Command::from(command)
        .output()
        .await
        .expect("run a PostgreSQL tool");
    assert!(
        output.status.success(),
        "a PostgreSQL tool failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `<root>/<version>/<tail>` for the highest version that has it.
fn glob_last(root: &str, tail: &str) -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse().ok()?;
            let path = e.path().join(tail);
            path.exists().then_some((version, path))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, path)| path)
}
