//! dtrace against bpftrace, in one run:
//!
//! - start-up: `dtrace -q -n 'BEGIN { exit(0); }'` next to
//!   `bpftrace -e 'BEGIN { exit(); }'`, whole processes, medians of 9
//!   (target: dtrace ≤ 0.1× bpftrace);
//! - per-syscall overhead of counting every system call by program: a
//!   workload making 2,000,000 getppid(2) calls, timed untraced, under
//!   `dtrace -n 'syscall:::entry { @[execname] = count(); }'` and under
//!   `bpftrace -e 'tracepoint:syscalls:sys_enter_* { @[comm] = count(); }'`
//!   (both attach every syscall's entry tracepoint); the overhead is the
//!   traced time less the untraced, per call, medians of 5 (target:
//!   dtrace ≤ 1.0× bpftrace).
//!
//! Never fails on a timing. Run as root: `cargo bench -p basalt-cli --bench dtrace`.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CALLS: u64 = 2_000_000;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn workload() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dtrace-bench");
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("calls.c");
    std::fs::write(
        &src,
        "#include <stdlib.h>\n#include <unistd.h>\n#include <sys/syscall.h>\n\
         int main(int c, char **v) { long n = atol(v[1]); \
         for (long i = 0; i < n; i++) syscall(SYS_getppid); return 0; }\n",
    )
    .unwrap();
    let bin = dir.join("calls");
    let st = Command::new("cc")
        .args(["-O2", "-static", "-o"])
        .arg(&bin)
        .arg(&src)
        .status()
        .expect("cc");
    assert!(st.success(), "cc failed");
    bin
}

fn time_workload(bin: &Path) -> Duration {
    let t = Instant::now();
    let st = Command::new(bin).arg(CALLS.to_string()).status().unwrap();
    assert!(st.success());
    t.elapsed()
}

fn run_quiet(cmd: &mut Command) -> Duration {
    let t = Instant::now();
    let out = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(out.success(), "{cmd:?} failed");
    t.elapsed()
}

/// Starts a tracer and waits for its word that it is tracing.
fn start(mut cmd: Command, ready: &str) -> Child {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).unwrap() == 0 || line.contains(ready) {
            break;
        }
    }
    // Drain the rest in the background so the tracer never blocks.
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = lines.read_to_end(&mut sink);
    });
    child
}

fn stop(mut child: Child) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    );
    let _ = child.wait();
}

fn main() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("the dtrace benchmark needs root");
        return;
    }
    let dtrace = env!("CARGO_BIN_EXE_dtrace");

    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for _ in 0..9 {
        ours.push(run_quiet(Command::new(dtrace).args([
            "-q",
            "-n",
            "BEGIN { exit(0); }",
        ])));
        theirs.push(run_quiet(
            Command::new("bpftrace").args(["-e", "BEGIN { exit(); }"]),
        ));
    }
    let (o, t) = (median(ours), median(theirs));
    println!(
        "start-up: dtrace {:.1} ms, bpftrace {:.1} ms: {:.3}x (target <= 0.1x)",
        o.as_secs_f64() * 1e3,
        t.as_secs_f64() * 1e3,
        o.as_secs_f64() / t.as_secs_f64()
    );

    let bin = workload();
    let mut base = Vec::new();
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for _ in 0..5 {
        base.push(time_workload(&bin));
        let mut c = Command::new(dtrace);
        c.args([
            "-q",
            "-n",
            "BEGIN { printf(\"ready\\n\"); } syscall:::entry { @[execname] = count(); }",
        ]);
        let child = start(c, "ready");
        ours.push(time_workload(&bin));
        stop(child);
        let mut c = Command::new("bpftrace");
        c.args([
            "-e",
            "BEGIN { printf(\"ready\\n\"); } tracepoint:syscalls:sys_enter_* { @[comm] = count(); }",
        ]);
        let child = start(c, "ready");
        theirs.push(time_workload(&bin));
        stop(child);
    }
    let b = median(base).as_secs_f64();
    let per = |d: Duration| (d.as_secs_f64() - b).max(0.0) / CALLS as f64 * 1e9;
    let (o, t) = (per(median(ours)), per(median(theirs)));
    println!(
        "per-syscall overhead of @[execname] = count(): dtrace {o:.1} ns, bpftrace {t:.1} ns \
         (untraced call {:.1} ns): {:.2}x (target <= 1.0x)",
        b / CALLS as f64 * 1e9,
        o / t
    );
}
