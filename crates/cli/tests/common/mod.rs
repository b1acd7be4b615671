//! What host tests driving the real binaries share: a check that they run
//! as root with the tools they need (a failure, never a skip), and a
//! relocated root (`BASALT_ROOT`) whose embedded pool is a 1 GiB loop file,
//! created by the first command that needs it and unmounted when the root
//! is dropped.

#![allow(dead_code)]

pub mod images;
pub mod imgadm;
pub mod leftovers;
pub mod netns;
#[path = "../support/target.rs"]
pub mod target;
pub mod zones;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// What a command printed and how it exited.
#[derive(Debug)]
pub struct Run {
    pub stdout: String,
    pub stderr: String,
    /// The exit status; -1 when killed by a signal.
    pub code: i32,
}

/// Fails the test unless it runs as root with every program of `tools` on
/// the PATH. CI runs these tests as root on machines that have them; a
/// missing one is a broken machine, not a reason to pass.
pub fn require(tools: &[&str]) {
    assert!(
        nix::unistd::geteuid().is_root(),
        "these host tests need root: they make btrfs pools on loop files \
         (run them as root, as CI does)"
    );
    let path = std::env::var_os("PATH").unwrap_or_default();
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| !std::env::split_paths(&path).any(|d| d.join(t).is_file()))
        .collect();
    assert!(
        missing.is_empty(),
        "these host tests need {} on the PATH (scripts/install installs them)",
        missing.join(", ")
    );
}

/// Fails the test unless Debian's cloud-init is importable by the system's
/// python3 (the host tests use its own SmartOS clients and datasource).
pub fn require_cloud_init() {
    let has_cloud_init = Command::new("/usr/bin/python3")
        .args(["-c", "import cloudinit.sources.DataSourceSmartOS"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        has_cloud_init,
        "cloud-init is not importable by /usr/bin/python3 (scripts/install installs it)"
    );
}

/// A relocated root with its own embedded pool (`<root>/zones`, a 1 GiB
/// pool file under `<root>/var/basalt`), named after the test that made it.
pub struct Root {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    /// The network namespace every command runs in, when not the host's.
    netns: Option<String>,
}

impl Root {
    /// A fresh root for `test`; its pool is made by the first command that
    /// needs one.
    pub fn new(test: &str) -> Root {
        require(&["mkfs.btrfs", "btrfs", "mount", "umount"]);
        let dir = tempfile::Builder::new()
            .prefix(&format!("basalt-{test}-"))
            .tempdir()
            .unwrap();
        std::fs::create_dir_all(dir.path().join("usbkey")).unwrap();
        std::fs::write(dir.path().join("usbkey/config"), "pool_file_size=1G\n").unwrap();
        Root {
            dir,
            env: Vec::new(),
            netns: None,
        }
    }

    /// Runs every later command in the named network namespace (one of
    /// `ip netns`), so that the node's bridges, ports and rules are the
    /// test's own.
    pub fn set_netns(&mut self, name: &str) {
        self.netns = Some(name.to_owned());
    }

    /// Sets an environment variable for every command run in this root.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.push((key.to_owned(), value.to_owned()));
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Where the pool is mounted.
    pub fn pool(&self) -> PathBuf {
        self.path().join("zones")
    }

    /// A command for binary `bin` of this package, against this root.
    pub fn command(&self, bin: &str) -> Command {
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("nsenter");
                c.arg(format!("--net=/run/netns/{ns}")).arg("--").arg(bin);
                c
            }
            None => Command::new(bin),
        };
        cmd.env("BASALT_ROOT", self.path())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `bin` with `args` to completion.
    pub fn run(&self, bin: &str, args: &[&str]) -> Run {
        let out = self
            .command(bin)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {bin}: {e}"));
        Run {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            code: out.status.code().unwrap_or(-1),
        }
    }

    /// Runs `bin` with `args`, `stdin` written to its standard input.
    pub fn run_with_input(&self, bin: &str, args: &[&str], stdin: &str) -> Run {
        use std::io::Write;
        let mut child = self
            .command(bin)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {bin}: {e}"));
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        Run {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            code: out.status.code().unwrap_or(-1),
        }
    }

    /// Starts vmadm with `args` and `input` on its standard input, its
    /// stderr piped (for runs in parallel).
    pub fn spawn_vmadm(&self, args: &[&str], input: &str) -> std::process::Child {
        use std::io::Write;
        let mut child = self
            .command(env!("CARGO_BIN_EXE_vmadm"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child
    }

    /// Starts `vmadm create` with `payload` on its standard input.
    pub fn spawn_create(&self, payload: &str) -> std::process::Child {
        self.spawn_vmadm(&["create"], payload)
    }

    /// Installs an image with imgadm, which must succeed.
    pub fn install_image(&self, manifest: &Path, file: &Path) {
        let r = self.run(
            env!("CARGO_BIN_EXE_imgadm"),
            &[
                "install",
                "-m",
                manifest.to_str().unwrap(),
                "-f",
                file.to_str().unwrap(),
            ],
        );
        assert_eq!(r.code, 0, "imgadm install: {}", r.stderr);
    }

    pub fn pooladm(&self, args: &[&str]) -> Run {
        self.run(env!("CARGO_BIN_EXE_pooladm"), args)
    }

    /// Runs pooladm, which must succeed, and returns its stdout.
    pub fn pooladm_ok(&self, args: &[&str]) -> String {
        let r = self.pooladm(args);
        assert_eq!(r.code, 0, "pooladm {args:?}: {}", r.stderr);
        r.stdout
    }

    fn mounted(&self) -> bool {
        let pool = self.pool();
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .any(|m| Path::new(m) == pool)
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        // A command killed by its test may leave the pool busy for a
        // moment; retry before giving up to a lazy unmount (the loop
        // device goes away with the last user either way).
        for _ in 0..20 {
            if !self.mounted() {
                return;
            }
            let unmounted = Command::new("umount")
                .arg(self.pool())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !unmounted {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        eprintln!("{} stays busy: unmounting lazily", self.pool().display());
        let _ = Command::new("umount").arg("-l").arg(self.pool()).status();
    }
}
