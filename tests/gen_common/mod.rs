//! Shared test helpers: tcpdump captures checked with tshark, and network namespaces joined by a veth.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn have(cmd: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {cmd}")]).stdout(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// Why capture tests cannot run here, if they cannot.
pub fn capture_unavailable() -> Option<String> {
    if std::env::var_os("WIRESEAM_SKIP_CAPTURE").is_some() {
        return Some("WIRESEAM_SKIP_CAPTURE is set".into());
    }
    if !nix::unistd::geteuid().is_root() {
        return Some("not root (tcpdump needs CAP_NET_RAW)".into());
    }
    for tool in ["tcpdump", "tshark"] {
        if !have(tool) {
            return Some(format!("{tool} is not installed"));
        }
    }
    None
}

/// Skip the calling test with a message when captures cannot run.
#[macro_export]
macro_rules! need_capture {
    () => {
        if let Some(why) = common::capture_unavailable() {
            eprintln!("skipping: {why}");
            return;
        }
    };
}

/// A port nothing uses right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn tmp_file(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("wsgen-{}-{name}", std::process::id()))
}

/// A running tcpdump writing to a file.
pub struct Capture {
    child: Child,
    pub file: PathBuf,
}

impl Capture {
    /// Start `tcpdump -i IFACE` (prefixed by `prefix`, e.g. `ip netns exec NS`) and wait for its
    /// "listening on" line. A 32 MiB buffer: the default ring drops packets of a burst on lo.
    pub fn start_with(prefix: &[&str], iface: &str, filter: &str, name: &str) -> Capture {
        let file = tmp_file(name);
        let _ = std::fs::remove_file(&file);
        let mut args: Vec<String> = prefix.iter().map(|s| s.to_string()).collect();
        args.extend(["tcpdump", "-i", iface, "-n", "-B", "32768", "--immediate-mode", "-U", "-w"].iter().map(|s| s.to_string()));
        args.push(file.display().to_string());
        args.push(filter.to_string());
        let mut child =
            Command::new(&args[0]).args(&args[1..]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("starting tcpdump");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(l) if l.contains("listening on") => break,
                Ok(_) => continue,
                Err(_) => {
                    let _ = child.kill();
                    panic!("tcpdump did not start listening");
                }
            }
        }
        Capture { child, file }
    }

    pub fn start(port: u16, name: &str) -> Capture {
        Capture::start_with(&[], "lo", &format!("port {port}"), name)
    }

    /// Stop with SIGINT (tcpdump then flushes) and return the file (deleted when dropped).
    pub fn stop(mut self) -> PcapFile {
        PcapFile(self.stop_inner())
    }

    fn stop_inner(&mut self) -> PathBuf {
        std::thread::sleep(Duration::from_millis(200));
        // SIGINT by process id (nix's signal feature is not among the crate's dependencies)
        let _ = Command::new("kill").args(["-INT", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return self.file.clone();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.file.clone()
    }
}

/// A capture file, removed when dropped.
pub struct PcapFile(PathBuf);

impl std::ops::Deref for PcapFile {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for PcapFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `tshark -r FILE -Y FILTER -T fields -e F...`: one row of fields per packet.
pub fn tshark(file: &Path, filter: &str, fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(file).args(["-Y", filter, "-T", "fields", "-E", "separator=|"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.stderr(Stdio::null()).output().expect("running tshark");
    String::from_utf8_lossy(&out.stdout).lines().map(|l| l.split('|').map(str::to_string).collect()).collect()
}

pub fn hex_decode(h: &str) -> Vec<u8> {
    let h: String = h.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    (0..h.len() / 2).map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap()).collect()
}

// ---------------------------------------------------------------------------------------------
// network namespaces

fn ip(args: &[&str]) {
    let st = Command::new("ip").args(args).status().expect("running ip");
    assert!(st.success(), "ip {} failed", args.join(" "));
}

/// Why namespace tests cannot run here, if they cannot.
pub fn netns_unavailable() -> Option<String> {
    if std::env::var_os("WIRESEAM_SKIP_NETNS").is_some() {
        return Some("WIRESEAM_SKIP_NETNS is set".into());
    }
    if !nix::unistd::geteuid().is_root() {
        return Some("not root (network namespaces need CAP_SYS_ADMIN)".into());
    }
    if !have("ip") {
        return Some("iproute2 (ip) is not installed".into());
    }
    None
}

#[macro_export]
macro_rules! need_netns {
    () => {
        if let Some(why) = common::netns_unavailable() {
            eprintln!("skipping: {why}");
            return;
        }
    };
}

/// Two namespaces joined by a veth: `a` (198.18.N.1/24 on `va`) and `b` (198.18.N.2/24 on `vb`).
/// Deleted on drop.
pub struct NsPair {
    pub a: String,
    pub b: String,
    pub va: String,
    pub vb: String,
    pub net: u8,
}

impl NsPair {
    pub fn new(net: u8) -> NsPair {
        let pid = std::process::id() % 100_000;
        let p = NsPair {
            a: format!("wsgen-a{net}-{pid}"),
            b: format!("wsgen-b{net}-{pid}"),
            va: format!("wga{net}p{pid}"),
            vb: format!("wgb{net}p{pid}"),
            net,
        };
        ip(&["netns", "add", &p.a]);
        ip(&["netns", "add", &p.b]);
        // create the pair inside `a` so no interface ever appears in the host namespace
        ip(&["-n", &p.a, "link", "add", &p.va, "type", "veth", "peer", "name", &p.vb, "netns", &p.b]);
        let (addr_a, addr_b) = (p.addr_a().to_string() + "/24", p.addr_b().to_string() + "/24");
        ip(&["-n", &p.a, "addr", "add", &addr_a, "broadcast", "+", "dev", &p.va]);
        ip(&["-n", &p.b, "addr", "add", &addr_b, "broadcast", "+", "dev", &p.vb]);
        for (ns, dev) in [(&p.a, &p.va), (&p.b, &p.vb)] {
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
        }
        p
    }

    pub fn addr_a(&self) -> std::net::Ipv4Addr {
        std::net::Ipv4Addr::new(198, 18, self.net, 1)
    }

    pub fn addr_b(&self) -> std::net::Ipv4Addr {
        std::net::Ipv4Addr::new(198, 18, self.net, 2)
    }
}

impl Drop for NsPair {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// Run `f` on a new thread that has joined network namespace `ns`.
pub fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> std::thread::JoinHandle<T> {
    let path = format!("/var/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).expect("opening the namespace");
        nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        f()
    })
}

/// Runs a client (`client`) every 300 ms until it is not refused, at most 20 times: a server
/// started on another thread listens only once that thread has bound, which on a loaded
/// machine took longer than a fixed wait. `refused` says whether an outcome was a refusal.
pub fn until_listening<T>(mut client: impl FnMut() -> T, refused: impl Fn(&T) -> bool) -> T {
    let mut tries = 0;
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let r = client();
        tries += 1;
        if !refused(&r) || tries >= 20 {
            return r;
        }
    }
}
