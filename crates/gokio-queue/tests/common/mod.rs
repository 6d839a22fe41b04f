//! Test harness: a NATS server with JetStream for the tests of the NATS
//! backend.
//!
//! [`server`] returns the server's URL: `GOKIO_NATS_URL` if set (CI starts
//! one), else a private server started once per test binary when
//! `nats-server` is on the `PATH`, else `None` and the tests skip, unless
//! `GOKIO_REQUIRE_NATS=1` makes that a failure.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The server of this test binary, started at most once.
static SERVER: OnceLock<Option<Server>> = OnceLock::new();

struct Server {
    url: String,
    /// The shell that owns a private server; its stdin is the pipe whose
    /// closing (when this process exits, however it exits) stops the
    /// server. Never waited for: it must outlive every test.
    _shell: Option<Mutex<Child>>,
}

/// How long a private server may take to start.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The URL of a NATS server with JetStream, or `None` (after printing why)
/// when there is none and the tests should skip.
///
/// # Panics
///
/// Panics if there is no server and `GOKIO_REQUIRE_NATS=1`, or if a private
/// server does not come up.
pub fn server() -> Option<String> {
    SERVER
        .get_or_init(start)
        .as_ref()
        .map(|server| server.url.clone())
}

fn start() -> Option<Server> {
    if let Some(url) = std::env::var("GOKIO_NATS_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        return Some(Server { url, _shell: None });
    }
    if !on_path("nats-server") {
        if std::env::var("GOKIO_REQUIRE_NATS").as_deref() == Ok("1") {
            panic!(
                "GOKIO_REQUIRE_NATS=1 but there is no NATS server: set GOKIO_NATS_URL \
                 or install nats-server (apt-get install -y nats-server)"
            );
        }
        eprintln!("skipping: nats-server not found (apt-get install -y nats-server)");
        return None;
    }
    Some(start_private())
}

/// Starts `nats-server` on free ports in a fresh directory, under a shell
/// that stops it (and removes the directory) when its stdin closes.
fn start_private() -> Server {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!("gokio-queue-nats-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create the server's directory");
    let script = r#"
        nats-server -js -a 127.0.0.1 -p -1 -m -1 -sd "$1" --ports_file_dir "$1" \
            >"$1/server.log" 2>&1 &
        pid=$!
        read -r _
        kill -INT "$pid"
        wait "$pid"
        rm -rf "$1"
    "#;
    let shell = Command::new("sh")
        .args(["-c", script, "sh"])
        .arg(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sh for nats-server");

    let deadline = Instant::now() + START_TIMEOUT;
    let (url, monitor) = loop {
        if let Some(ports) = read_ports(&dir) {
            break ports;
        }
        assert!(
            Instant::now() < deadline,
            "nats-server wrote no ports file in {}; see its server.log",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    while !healthy(&monitor) {
        assert!(
            Instant::now() < deadline,
            "nats-server at {url} is not healthy; see {}",
            dir.join("server.log").display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Server {
        url,
        _shell: Some(Mutex::new(shell)),
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// The client URL and the monitoring `host:port` from the server's ports
/// file, once it is complete.
fn read_ports(dir: &Path) -> Option<(String, String)> {
    let file: PathBuf = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|ext| ext == "ports"))?;
    let ports: serde_json::Value = serde_json::from_slice(&std::fs::read(file).ok()?).ok()?;
    let url = ports["nats"][0].as_str()?.to_owned();
    let monitor = ports["monitoring"][0].as_str()?;
    let monitor = monitor.strip_prefix("http://")?.to_owned();
    Some((url, monitor))
}

/// Whether the server's JetStream is ready: `GET /healthz` answers 200.
fn healthy(monitor: &str) -> bool {
    let Ok(mut conn) = TcpStream::connect(monitor) else {
        return false;
    };
    let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!(
        "GET /healthz?js-enabled-only=true HTTP/1.0\r\nHost: {monitor}\r\nConnection: close\r\n\r\n"
    );
    if conn.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = conn.read_to_string(&mut response);
    response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200")
}

/// A queue name no other test (of this run or an earlier one against the
/// same server) uses.
#[allow(
    dead_code,
    reason = "not every test binary that uses the harness needs it"
)]
pub fn unique_queue(test: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // Relaxed: the counter only has to hand out distinct numbers.
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{test}-{}-{nanos}-{n}", std::process::id())
}
