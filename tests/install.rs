//! `make install DESTDIR=… PREFIX=…` puts the binary, the man pages and the completions where
//! they belong; the installed binary runs the README's first examples; bash loads its completion.

mod common;
use common::*;
use std::process::Command;

#[test]
fn make_install_then_run_the_installed_binary() {
    if Command::new("make").arg("--version").output().is_err() {
        eprintln!("skipped: make is not installed");
        return;
    }
    let dest = std::env::temp_dir().join(format!("wsinstall-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dest);
    let o = Command::new("make")
        .current_dir(root())
        .args(["-s", "install-files", "PREFIX=/usr"])
        .arg(format!("DESTDIR={}", dest.display()))
        .arg(format!("INSTALL_BIN={}", env!("CARGO_BIN_EXE_wireseam")))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let usr = dest.join("usr");
    for f in [
        "bin/wireseam",
        "share/man/man1/wireseam.1",
        "share/man/man1/wireseam-read.1",
        "share/man/man1/wireseam-golden.1",
        "share/bash-completion/completions/wireseam",
        "share/zsh/site-functions/_wireseam",
        "share/fish/vendor_completions.d/wireseam.fish",
    ] {
        assert!(usr.join(f).is_file(), "{f} not installed");
    }
    let bin = usr.join("bin/wireseam");
    let run = |args: &[&str]| Command::new(&bin).current_dir(root()).args(args).env("NO_COLOR", "1").output().unwrap();
    let o = run(&["read", "fixtures/tcp-basic.pcap"]);
    assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).contains("handshake 1/3"));
    let o = run(&["stream", "fixtures/lesson-hello.pcap", "--recv", "1024", "--recv-at", "end"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("recv #1 (1024) → \"hello|world\""), "{}", String::from_utf8_lossy(&o.stdout));
    // bash loads the completion and offers the commands
    if Command::new("bash").arg("--version").output().is_ok() {
        let script = usr.join("share/bash-completion/completions/wireseam");
        let probe = format!(
            "source '{}'; COMP_WORDS=(wireseam st); COMP_CWORD=1; _wireseam wireseam st wireseam; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        );
        let o = Command::new("bash").args(["-c", &probe]).output().unwrap();
        let offered = String::from_utf8_lossy(&o.stdout);
        assert!(
            offered.lines().any(|l| l == "stream"),
            "bash completion of `wireseam st`: {offered:?} {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dest);
}
