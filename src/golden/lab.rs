//! Recording in a private lab network (`wireseam golden --lab`): a veth lab ([`crate::lab::veth`]),
//! a capture on the client's `eth0`, the command in the client's namespace and an optional server
//! command in the server's, with the lab's addresses in their environment.
//!
//! Both processes are registered with the lab ([`netns::track_child`]) while they run, so that
//! Ctrl-C or SIGTERM kills them before the namespaces are deleted; the server is stopped (SIGTERM
//! to its process group, SIGKILL a second later) when the run ends, fails or unwinds.

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::live::DRAIN;
use super::record::Recording;
use super::{read_options, GoldenOptions};
use crate::capture::live::{LiveConfig, LiveError, LiveSource};
use crate::lab::{netns, LabError, Veth, CLIENT_ADDR, SERVER_ADDR};
use crate::pipeline;

/// How long a `--server` command may take to listen before the run fails.
pub const SERVER_READY: Duration = Duration::from_secs(10);

/// How long a stopped server has between SIGTERM and SIGKILL.
const SERVER_GRACE: Duration = Duration::from_secs(1);

/// The environment of both commands of a lab run: the two addresses and namespace names.
///
/// | variable | value |
/// |---|---|
/// | `WIRESEAM_LAB_SERVER` | the server's address, `198.19.0.2` |
/// | `WIRESEAM_LAB_CLIENT` | the client's address, `198.19.0.1` |
/// | `WIRESEAM_LAB_SERVER_NS` | the server's namespace (`ip netns exec NAME ...`) |
/// | `WIRESEAM_LAB_CLIENT_NS` | the client's namespace |
pub fn lab_env(lab: &Veth) -> Vec<(&'static str, String)> {
    vec![
        ("WIRESEAM_LAB_SERVER", SERVER_ADDR.to_string()),
        ("WIRESEAM_LAB_CLIENT", CLIENT_ADDR.to_string()),
        ("WIRESEAM_LAB_SERVER_NS", lab.server.name().to_string()),
        ("WIRESEAM_LAB_CLIENT_NS", lab.client.name().to_string()),
    ]
}

/// Captures on the client's `eth0` of `lab` (`opts.filter` as the kernel filter) while `during`
/// runs, and returns the recording with what `during` returned. The capture is open before
/// `during` starts and goes on for [`DRAIN`] after it returns. `during` runs on the calling
/// thread, in the calling thread's namespace: use [`Netns::spawn`](crate::lab::Netns::spawn) on
/// `lab.client` or `lab.server` to act inside the lab. A socket stays in the namespace it was
/// made in, so a listener made on a server-namespace thread can be served from any thread.
///
/// ```no_run
/// use std::io::{Read, Write};
/// use std::net::{TcpListener, TcpStream};
/// use wireseam::golden::{check, record_lab, GoldenOptions};
///
/// let lab = wireseam::lab::veth(None, None).expect("the lab needs root and iproute2");
/// let opts = GoldenOptions { filter: Some("tcp port 9000".into()), ..GoldenOptions::default() };
/// let listener = lab.server.spawn(|| TcpListener::bind("0.0.0.0:9000")).unwrap().join().unwrap().unwrap();
/// let server = std::thread::spawn(move || {
///     let (mut conn, _) = listener.accept().unwrap();
///     let mut buf = [0; 64];
///     let n = conn.read(&mut buf).unwrap();
///     conn.write_all(&buf[..n]).unwrap();
/// });
/// let client = || {
///     let mut conn = TcpStream::connect((wireseam::lab::SERVER_ADDR, 9000)).unwrap();
///     conn.write_all(b"hello\n").unwrap();
///     conn.read_to_end(&mut Vec::new()).unwrap();
/// };
/// let (recording, ()) = record_lab(&lab, &opts, || lab.client.spawn(client).unwrap().join().unwrap()).expect("capture");
/// server.join().unwrap();
/// check("tests/net/echo-lab.golden".as_ref(), &recording, &opts).unwrap_or_else(|diff| panic!("{diff}"));
/// ```
pub fn record_lab<T>(lab: &Veth, opts: &GoldenOptions, during: impl FnOnce() -> T) -> Result<(Recording, T), LiveError> {
    let iface = "eth0";
    let other = |msg: String| LiveError::Other { iface: format!("{iface} of {}", lab.client.name()), msg };
    // The kernel filter is in the handle: the pipeline must not filter again.
    let mut read = read_options(&PathBuf::from(iface), &GoldenOptions { filter: None, ..opts.clone() }).map_err(|e| other(e.0))?;
    read.progress = false;
    let live = LiveConfig {
        iface: iface.to_string(),
        filter: opts.filter.clone(),
        snaplen: 262_144,
        promisc: false,
        buffer_bytes: 32 << 20,
        write: None,
        rotate: Default::default(),
    };
    let (tx, rx) = mpsc::channel();
    // The capture is opened inside the client's namespace (a packet socket belongs to the
    // namespace it was made in); the pipeline then runs on that thread.
    let capture = lab
        .client
        .spawn(move || {
            let mut src = match LiveSource::open(&live) {
                Ok(src) => src,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return None;
                }
            };
            let _ = tx.send(Ok(src.stopper()));
            let mut recording = Recording::default();
            let result = pipeline::run(&mut src, &read, &mut recording);
            Some((recording, result.map(|_| ()).map_err(|e| e.to_string())))
        })
        .map_err(|e| other(e.to_string()))?;
    let stopper = match rx.recv() {
        Ok(Ok(stopper)) => stopper,
        Ok(Err(e)) => {
            let _ = capture.join();
            return Err(e);
        }
        Err(_) => return Err(other("the capture thread ended before opening".into())),
    };
    let value = during();
    std::thread::sleep(DRAIN);
    stopper.stop();
    match capture.join() {
        Ok(Some((recording, Ok(())))) => Ok((recording, value)),
        Ok(Some((_, Err(msg)))) => Err(other(msg)),
        _ => Err(other("the capture thread panicked".into())),
    }
}

/// Whether anything in the calling thread's namespace listens on TCP or has a UDP socket bound.
fn listening() -> bool {
    let tcp = ["/proc/thread-self/net/tcp", "/proc/thread-self/net/tcp6"].iter().any(|file| {
        std::fs::read_to_string(file).unwrap_or_default().lines().skip(1).any(|line| line.split_whitespace().nth(3) == Some("0A"))
    });
    let udp = ["/proc/thread-self/net/udp", "/proc/thread-self/net/udp6"]
        .iter()
        .any(|file| std::fs::read_to_string(file).unwrap_or_default().lines().nth(1).is_some());
    tcp || udp
}

/// A `--server` command running in its own process group in the server's namespace; stopped
/// when dropped.
pub(super) struct Server {
    child: Child,
    command: String,
}

impl Server {
    /// `sh -c COMMAND` in the server's namespace; returns once it listens (TCP) or has bound a
    /// UDP socket. `Err` says why not: it could not start, it ended first, or it took longer
    /// than [`SERVER_READY`].
    pub(super) fn start(lab: &Veth, command: &str) -> Result<Server, String> {
        let env = lab_env(lab);
        let shell = command.to_string();
        let spawned = lab
            .server
            .spawn(move || {
                use std::os::unix::process::CommandExt;
                Command::new("sh").arg("-c").arg(&shell).envs(env).process_group(0).spawn()
            })
            .map_err(|e| e.to_string())?
            .join()
            .map_err(|_| "the thread starting --server panicked".to_string())?;
        let child = spawned.map_err(|e| format!("--server {command:?}: cannot run sh: {e}"))?;
        netns::track_child(-(child.id() as i32));
        let mut server = Server { child, command: command.to_string() };
        let deadline = Instant::now() + SERVER_READY;
        let (tx, rx) = mpsc::channel();
        // /proc/thread-self/net shows the namespace of the thread that reads it
        let watcher = lab
            .server
            .spawn(move || {
                while Instant::now() < deadline {
                    if listening() {
                        let _ = tx.send(());
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
            .map_err(|e| e.to_string())?;
        loop {
            if rx.recv_timeout(Duration::from_millis(10)).is_ok() {
                let _ = watcher.join();
                return Ok(server);
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!("--server {command:?} ended ({}) before it listened", describe(status)));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "--server {command:?} did not listen within {} s (a TCP listener or a bound UDP socket in the server's namespace)",
                    SERVER_READY.as_secs()
                ));
            }
        }
    }

    /// Whether it ended on its own before being stopped, and how.
    pub(super) fn ended(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let group = -(self.child.id() as i32);
        if self.ended().is_none() {
            let _ = kill(Pid::from_raw(group), Signal::SIGTERM);
            let deadline = Instant::now() + SERVER_GRACE;
            while self.ended().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        // whatever of its group is left (its children too), then reap it
        let _ = kill(Pid::from_raw(group), Signal::SIGKILL);
        let _ = self.child.wait();
        netns::untrack_child(group);
    }
}

/// `exit status N` or `killed by signal N`.
fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => status.to_string(),
    }
}

/// Runs `command` in the client's namespace with the lab's environment and waits for it; its
/// output passes through.
pub(super) fn run_client(lab: &Veth, command: &[String]) -> Result<ExitStatus, String> {
    let env = lab_env(lab);
    let argv = command.to_vec();
    let child = lab
        .client
        .spawn(move || Command::new(&argv[0]).args(&argv[1..]).envs(env).spawn())
        .map_err(|e| e.to_string())?
        .join()
        .map_err(|_| "the thread starting the command panicked".to_string())?;
    let mut child = child.map_err(|e| format!("cannot run {}: {e}", command[0]))?;
    let pid = child.id() as i32;
    netns::track_child(pid);
    let status = child.wait();
    netns::untrack_child(pid);
    status.map_err(|e| format!("waiting for {}: {e}", command[0]))
}

/// How a lab run failed, with the exit status it gives.
#[derive(Debug)]
pub(super) enum LabFailure {
    /// The lab or its capture could not be set up, or the command could not be started (exit 2).
    Setup(String),
    /// The server did not come up (exit 1).
    Run(String),
}

impl From<LabError> for LabFailure {
    fn from(e: LabError) -> Self {
        LabFailure::Setup(e.to_string())
    }
}

/// One `golden --lab` run: set up the lab, start the capture, the server (if any) and the
/// command, stop the server after the capture; the recording and the command's exit status.
pub(super) fn run(
    opts: &GoldenOptions,
    command: &[String],
    server: Option<&str>,
    rate: Option<&str>,
    delay: Option<Duration>,
) -> Result<(Recording, ExitStatus), LabFailure> {
    let lab = crate::lab::veth(rate, delay)?;
    for note in &lab.notes {
        eprintln!("wireseam: lab: {note}");
    }
    let mut running = None;
    let (recording, status) = record_lab(&lab, opts, || {
        if let Some(cmd) = server {
            running = Some(Server::start(&lab, cmd).map_err(LabFailure::Run)?);
        }
        // a command that cannot be started is a usage error, as without --lab
        run_client(&lab, command).map_err(LabFailure::Setup)
    })
    .map_err(|e| LabFailure::Setup(e.to_string()))?;
    if let Some(server) = running.as_mut() {
        if let Some(status) = server.ended() {
            if !status.success() {
                eprintln!("wireseam: --server {:?} ended with {} while the command ran", server.command, describe(status));
            }
        }
    }
    drop(running);
    drop(lab);
    Ok((recording, status?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_statuses_are_described() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(describe(ExitStatus::from_raw(3 << 8)), "exit status 3");
        assert_eq!(describe(ExitStatus::from_raw(9)), "killed by signal 9");
    }
}
