//! Private network namespaces for the lab: created with iproute2 (`ip netns add`, so they are
//! visible and removable by hand with `ip netns del` if the process is killed with SIGKILL),
//! entered per thread with setns(2), and deleted when their guard is dropped, on Ctrl-C or
//! SIGTERM (a handler deletes every namespace still registered, then exits 130), and on panic
//! (the guard's `Drop` runs while unwinding).
//!
//! Names are `wslab-PID-N-ROLE` (PID of this process, N a per-process counter), so two runs, or
//! two labs of one run, never collide; tests find leftovers by that prefix.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once};

/// Namespaces this process created and has not deleted yet (for the signal handler).
static LIVE: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// Processes started inside this process's namespaces and still running, as kill(2) takes them
/// (a pid, or minus a process group id), killed by the signal handler before the namespaces go.
static CHILDREN: Mutex<Vec<i32>> = Mutex::new(Vec::new());
static HANDLER: Once = Once::new();
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Why the lab cannot be set up; each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// Namespaces and devices need root (CAP_SYS_ADMIN and CAP_NET_ADMIN).
    #[error("the lab needs root (network namespaces need CAP_SYS_ADMIN): run with sudo, or leave out --lab to use loopback")]
    NotRoot,
    /// iproute2 is missing.
    #[error("the lab needs iproute2's `ip` command; install iproute2")]
    NoIp,
    /// ethtool is missing: the veth would keep its segmentation offloads, and the capture would
    /// show frames far larger than the MTU instead of what a real NIC carries.
    #[error(
        "the lab needs ethtool to switch the veth's offloads off (without it the capture shows segments larger than \
         the MTU): install ethtool (apt-get install ethtool), or leave out --lab to use loopback"
    )]
    NoEthtool,
    /// A link option needs a queueing discipline this kernel does not have (`tc` answers
    /// "Specified qdisc kind is unknown").
    #[error(
        "{flag} {value} needs the kernel's {qdisc} queueing discipline (kernel module {module}), which this kernel does \
         not have: load it with `modprobe {module}` (or use a kernel built with it), or leave out {flag}"
    )]
    MissingQdisc {
        /// The option (`--delay`).
        flag: &'static str,
        /// Its value as given (`50`).
        value: String,
        /// The qdisc (`netem`).
        qdisc: &'static str,
        /// The kernel module that provides it (`sch_netem`).
        module: &'static str,
    },
    /// A setup command failed.
    #[error("{what} failed: {detail}")]
    Setup {
        /// The command, as typed.
        what: String,
        /// Its error output.
        detail: String,
    },
}

/// The prefix of every namespace this process creates.
pub fn prefix() -> String {
    format!("wslab-{}-", std::process::id())
}

/// Runs a command; its stderr becomes the error.
pub(crate) fn run(args: &[&str]) -> Result<(), LabError> {
    let out = Command::new(args[0]).args(&args[1..]).stdin(Stdio::null()).output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound && args[0] == "ip" {
            LabError::NoIp
        } else {
            LabError::Setup { what: args.join(" "), detail: e.to_string() }
        }
    })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(LabError::Setup { what: args.join(" "), detail: String::from_utf8_lossy(&out.stderr).trim().to_string() })
    }
}

fn install_handler() {
    HANDLER.call_once(|| {
        // Another part of the program may own the handler already; then its own cleanup runs.
        let _ = ctrlc::set_handler(|| {
            delete_all();
            eprintln!("wireseam: interrupted; the lab's namespaces are removed");
            std::process::exit(130);
        });
    });
}

/// Registers a process started in a lab namespace, so that Ctrl-C or SIGTERM kills it before
/// the namespaces are deleted (a process keeps a deleted namespace alive). `target` is as
/// kill(2) takes it: a pid, or minus a process group id for the whole group.
pub fn track_child(target: i32) {
    install_handler();
    if let Ok(mut children) = CHILDREN.lock() {
        children.push(target);
    }
}

/// Forgets a process registered with [`track_child`] (it has ended, or was stopped).
pub fn untrack_child(target: i32) {
    if let Ok(mut children) = CHILDREN.lock() {
        children.retain(|&t| t != target);
    }
}

/// Kill every process still registered, then delete every namespace still registered (signal
/// handler, and tests).
pub fn delete_all() {
    let children = CHILDREN.lock().map(|mut c| std::mem::take(&mut *c)).unwrap_or_default();
    for target in children {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(target), nix::sys::signal::Signal::SIGKILL);
    }
    let names = LIVE.lock().map(|mut live| std::mem::take(&mut *live)).unwrap_or_default();
    for name in names {
        let _ = Command::new("ip").args(["netns", "del", &name]).stderr(Stdio::null()).status();
    }
}

/// One network namespace, deleted (with every interface in it) on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Create `wslab-PID-N-ROLE`. Needs root.
    pub fn create(role: &str) -> Result<Netns, LabError> {
        if !nix::unistd::geteuid().is_root() {
            return Err(LabError::NotRoot);
        }
        install_handler();
        let name = format!("{}{}-{role}", prefix(), NEXT.fetch_add(1, Ordering::Relaxed));
        // Registered before it exists: a signal between the two deletes nothing that is not ours.
        if let Ok(mut live) = LIVE.lock() {
            live.push(name.clone());
        }
        let ns = Netns { name };
        // A namespace of this name can only be left over from a process killed with SIGKILL that
        // had this pid before (a live process's pid is unique): it is orphaned, remove it.
        if list(&ns.name).contains(&ns.name) {
            let _ = Command::new("ip").args(["netns", "del", &ns.name]).stderr(Stdio::null()).status();
        }
        run(&["ip", "netns", "add", &ns.name])?;
        ns.ip(&["link", "set", "lo", "up"])?;
        // The lab speaks IPv4; IPv6 would add router solicitations and MLD reports to every capture.
        for key in ["all", "default"] {
            ns.sysctl(&format!("net/ipv6/conf/{key}/disable_ipv6"), "1")?;
        }
        Ok(ns)
    }

    /// The namespace's name (`ip netns exec NAME ...`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip -n NAME ARGS...`.
    pub fn ip(&self, args: &[&str]) -> Result<(), LabError> {
        let mut all = vec!["ip", "-n", &self.name];
        all.extend_from_slice(args);
        run(&all)
    }

    /// `ip netns exec NAME ARGS...` (tc, ethtool).
    pub fn exec(&self, args: &[&str]) -> Result<(), LabError> {
        let mut all = vec!["ip", "netns", "exec", &self.name];
        all.extend_from_slice(args);
        run(&all)
    }

    /// Write a sysctl of this namespace (`key` as a path under /proc/sys, e.g. `net/ipv4/tcp_syn_retries`).
    pub fn sysctl(&self, key: &str, value: &str) -> Result<(), LabError> {
        let key = key.replace('/', ".");
        self.exec(&["sysctl", "-q", "-w", &format!("{key}={value}")])
    }

    /// Move the calling thread into this namespace (threads it spawns afterwards are in it too).
    pub fn enter(&self) -> Result<(), LabError> {
        let path = format!("/var/run/netns/{}", self.name);
        let file = std::fs::File::open(&path).map_err(|e| LabError::Setup { what: format!("opening {path}"), detail: e.to_string() })?;
        nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(|e| LabError::Setup { what: format!("setns into {}", self.name), detail: e.to_string() })
    }

    /// Run `f` on a new thread inside this namespace.
    pub fn spawn<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<std::thread::JoinHandle<T>, LabError> {
        let path = format!("/var/run/netns/{}", self.name);
        let file = std::fs::File::open(&path).map_err(|e| LabError::Setup { what: format!("opening {path}"), detail: e.to_string() })?;
        Ok(std::thread::spawn(move || {
            nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns into a namespace just opened");
            f()
        }))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).stderr(Stdio::null()).status();
        if let Ok(mut live) = LIVE.lock() {
            live.retain(|name| name != &self.name);
        }
    }
}

/// Whether `program` is an executable file in one of `$PATH`'s directories.
pub(crate) fn on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path)
            .any(|dir| std::fs::metadata(dir.join(program)).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
    })
}

/// Namespaces whose name starts with `prefix` (`ip netns list`), for leak checks.
pub fn list(prefix: &str) -> Vec<String> {
    let out = Command::new("ip").args(["netns", "list"]).output();
    let text = out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
    text.lines().filter_map(|line| line.split_whitespace().next()).filter(|name| name.starts_with(prefix)).map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::on_path;

    #[test]
    fn on_path_finds_executables_only() {
        assert!(on_path("sh"), "sh is on every PATH");
        assert!(!on_path("wireseam-no-such-program"));
        // a directory of that name is no program
        assert!(!on_path("."));
    }
}
