//! `dtrace` running D programs on this host's kernel: the classic
//! one-liners against workloads the tests make (a small C program doing a
//! known number of calls), printed as DTrace prints them, with counts
//! checked exactly and against bpftrace on the same workload.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn dtrace(args: &[&str]) -> (i32, String, String) {
    common::require(&[]);
    let out = Command::new(env!("CARGO_BIN_EXE_dtrace"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The workload, built once with cc (static: no loader's own calls):
/// `dtwork open N PATH` opens PATH N times with openat(2); `read N SIZE`
/// reads SIZE bytes N times from /dev/zero; `malloc N SIZE` mallocs and
/// frees; `spin MS` spins in `dtwork_spin` for MS milliseconds.
fn workload() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        common::require(&["cc"]);
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dtrace-workload");
        std::fs::create_dir_all(&dir).unwrap();
        let src = dir.join("dtwork.c");
        std::fs::write(&src, WORKLOAD_C).unwrap();
        let bin = dir.join(format!("dtwork-{}", std::process::id()));
        let st = Command::new("cc")
            .args(["-O1", "-g", "-static", "-fno-omit-frame-pointer", "-o"])
            .arg(&bin)
            .arg(&src)
            .status()
            .unwrap();
        assert!(st.success(), "cc failed to build the workload");
        let named = dir.join("dtwork");
        std::fs::rename(&bin, &named).unwrap();
        named
    })
}

const WORKLOAD_C: &str = r#"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

__attribute__((noinline)) void dtwork_spin(long ms) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    volatile unsigned long x = 0;
    for (;;) {
        for (long i = 0; i < 1000000; i++) x += i;
        clock_gettime(CLOCK_MONOTONIC, &b);
        if ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 >= ms) return;
    }
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    long n = atol(argv[2]);
    if (!strcmp(argv[1], "open")) {
        for (long i = 0; i < n; i++) {
            int fd = syscall(SYS_openat, AT_FDCWD, argv[3], O_RDONLY);
            if (fd >= 0) close(fd);
        }
    } else if (!strcmp(argv[1], "read")) {
        long size = atol(argv[3]);
        char *buf = malloc(size);
        int fd = open("/dev/zero", O_RDONLY);
        for (long i = 0; i < n; i++) read(fd, buf, size);
    } else if (!strcmp(argv[1], "malloc")) {
        long size = atol(argv[3]);
        for (long i = 0; i < n; i++) {
            void *volatile p = malloc(size);
            free(p);
        }
    } else if (!strcmp(argv[1], "spin")) {
        dtwork_spin(n);
        struct timespec cpu;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
        printf("cpu %ld\n", cpu.tv_sec * 1000000000L + cpu.tv_nsec);
    }
    return 0;
}
"#;

fn work(args: &[&str]) -> String {
    let mut s = workload().display().to_string();
    for a in args {
        s.push(' ');
        s.push_str(a);
    }
    s
}

#[test]
fn begin_printf_and_exit() {
    let (code, out, err) = dtrace(&[
        "-n",
        "BEGIN { printf(\"hello %d %s\\n\", 42, \"world\"); exit(3); }",
    ]);
    assert_eq!(code, 3, "{err}");
    assert_eq!(err, "dtrace: description 'BEGIN ' matched 1 probe\n");
    assert!(out.contains("hello 42 world\n"), "{out}");
    assert!(
        out.starts_with("CPU     ID                    FUNCTION:NAME\n"),
        "{out}"
    );

    let (code, out, err) = dtrace(&[
        "-q",
        "-n",
        "BEGIN { x = 7; y = x * 6; printf(\"%d\\n\", y); exit(0); }",
    ]);
    assert_eq!((code, out.as_str(), err.as_str()), (0, "42\n", ""));
}

#[test]
fn openat_calls_are_counted_exactly_and_as_bpftrace_counts_them() {
    let marker = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dtrace-open-marker");
    std::fs::write(&marker, b"x").unwrap();
    let m = marker.display().to_string();
    let cmd = work(&["open", "1000", &m]);
    let program = format!(
        "syscall::openat:entry /pid == $target && copyinstr(arg1) == \"{m}\"/ {{ @n = count(); }} \
         END {{ printa(\"%@d\\n\", @n); }}"
    );
    let (code, out, err) = dtrace(&["-q", "-c", &cmd, "-n", &program]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "1000", "{out}{err}");

    common::require(&["bpftrace"]);
    let bt = Command::new("bpftrace")
        .args([
            "-e",
            &format!(
                "tracepoint:syscalls:sys_enter_openat /pid == cpid && str(args->filename) == \"{m}\"/ {{ @n = count(); }}"
            ),
            "-c",
            &cmd,
        ])
        .output()
        .unwrap();
    let bt_out = String::from_utf8_lossy(&bt.stdout);
    assert!(bt_out.contains("@n: 1000"), "bpftrace saw: {bt_out}");
}

#[test]
fn count_by_execname_prints_sorted_by_value() {
    let cmd = work(&["open", "300", "/dev/null"]);
    let (code, out, err) = dtrace(&[
        "-q",
        "-c",
        &cmd,
        "-n",
        "syscall::openat:entry /pid == $target/ { @[execname] = count(); }",
    ]);
    assert_eq!(code, 0, "{err}");
    // DTrace's layout: a blank line, then each key and value.
    assert!(out.starts_with('\n'), "{out:?}");
    let line = out
        .lines()
        .find(|l| l.contains("dtwork"))
        .unwrap_or_default();
    assert_eq!(
        line.split_whitespace().collect::<Vec<_>>(),
        ["dtwork", "300"],
        "{out}"
    );
}

#[test]
fn openat_printf_with_copyinstr() {
    let cmd = work(&["open", "2", "/dev/null"]);
    let (code, out, err) = dtrace(&[
        "-q",
        "-c",
        &cmd,
        "-n",
        "syscall::openat:entry /pid == $target/ { printf(\"%s %s\\n\", execname, copyinstr(arg1)); }",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "dtwork /dev/null\ndtwork /dev/null\n");
}

#[test]
fn read_sizes_quantize_as_dtrace_prints_them() {
    let cmd = work(&["read", "100", "100"]);
    let (code, out, err) = dtrace(&[
        "-q",
        "-c",
        &cmd,
        "-n",
        "syscall::read:entry /pid == $target/ { @ = quantize(arg2); }",
    ]);
    assert_eq!(code, 0, "{err}");
    // An unkeyed aggregation at the end: two newlines, then the histogram
    // (aggs/tst.quantlast.r).
    assert_eq!(
        out,
        "\n\n\
         \x20          value  ------------- Distribution ------------- count    \n\
         \x20             32 |                                         0        \n\
         \x20             64 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@ 100      \n\
         \x20            128 |                                         0        \n\
         \n"
    );
}

#[test]
fn on_cpu_time_per_process_with_thread_locals() {
    let cmd = work(&["spin", "200"]);
    let (code, out, err) = dtrace(&[
        "-q",
        "-c",
        &cmd,
        "-n",
        "sched:::on-cpu { self->ts = timestamp; } \
         sched:::off-cpu /self->ts/ { @[execname] = sum(timestamp - self->ts); self->ts = 0; }",
    ]);
    assert_eq!(code, 0, "{err}");
    let field = |prefix: &str| -> u64 {
        out.lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .and_then(|l| l.split_whitespace().last())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    // The sum of its on-CPU intervals is the CPU time the workload itself
    // measured (printed as it ends): within half of it either way, however
    // loaded the machine is.
    let (traced, own) = (field("dtwork"), field("cpu "));
    assert!(own > 0, "{out}");
    assert!(
        traced > own / 2 && traced < own + own / 2,
        "on-cpu sum {traced} ns, the thread's own CPU time {own} ns: {out}"
    );
}

#[test]
fn profile_samples_user_stacks_with_symbols() {
    let cmd = work(&["spin", "400"]);
    let (code, out, err) = dtrace(&[
        "-q",
        "-c",
        &cmd,
        "-n",
        "profile-997 /pid == $target/ { @[ustack()] = count(); }",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("dtwork`dtwork_spin"), "{out}");
}

#[test]
fn pid_provider_quantizes_malloc_sizes_of_the_command() {
    // The workload is static: its malloc is in the executable itself.
    let cmd = work(&["malloc", "500", "1000"]);
    let (code, out, err) = dtrace(&[
        "-q",
        "-c",
        &cmd,
        "-n",
        "pid$target::malloc:entry { @ = quantize(arg0); }",
    ]);
    assert_eq!(code, 0, "{err}");
    let row = out
        .lines()
        .find(|l| l.trim_start().starts_with("512 "))
        .unwrap_or_default();
    let count: u64 = row
        .split_whitespace()
        .last()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(count >= 500, "{out}");
}

#[test]
fn exec_success_is_traced() {
    common::require(&[]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_dtrace"))
        .args([
            "-q",
            "-n",
            "BEGIN { printf(\"ready\\n\"); } \
             proc:::exec-success /execname == \"dtwork\"/ { printf(\"%s\\n\", execname); exit(0); }",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    let st = Command::new(workload())
        .args(["open", "1", "/dev/null"])
        .status()
        .unwrap();
    assert!(st.success());
    let until = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    while Instant::now() < until {
        match lines.next() {
            Some(Ok(l)) => seen.push(l),
            _ => break,
        }
    }
    let st = child.wait().unwrap();
    assert_eq!(seen, ["dtwork"]);
    assert!(st.success());
}

#[test]
fn zonename_is_global_on_the_host() {
    let (code, out, err) = dtrace(&[
        "-q",
        "-n",
        "BEGIN { printf(\"%s\\n\", zonename); exit(0); }",
    ]);
    assert_eq!((code, out.as_str()), (0, "global\n"), "{err}");
}

#[test]
fn compile_errors_point_at_the_d_source() {
    let (code, _, err) = dtrace(&["-n", "BEGIN { x = nosuch + 1; }"]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "dtrace: invalid probe specifier BEGIN { x = nosuch + 1; }: column 13: failed to resolve nosuch: Unknown variable name\n"
    );
    let (code, _, err) = dtrace(&["-n", "BEGIN { @a = count(); @a = sum(1); }"]);
    assert_eq!(code, 1);
    assert!(err.contains("@a: aggregation redefined"), "{err}");
}

#[test]
fn usdt_probes_of_a_library_fire_for_the_command() {
    // libstdc++ carries `.note.stapsdt` probes for throw and catch.
    common::require(&["g++"]);
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("throw.cc");
    std::fs::write(
        &src,
        "#include <cstdlib>\n\
         int main(int argc, char **argv) {\n\
           int n = atoi(argv[1]), caught = 0;\n\
           for (int i = 0; i < n; i++) { try { throw i; } catch (int) { caught++; } }\n\
           return caught == n ? 0 : 1;\n\
         }\n",
    )
    .unwrap();
    let bin = dir.path().join("throw");
    let st = Command::new("g++")
        .args(["-O1", "-o"])
        .arg(&bin)
        .arg(&src)
        .status()
        .unwrap();
    assert!(st.success());
    let cmd = format!("{} 7", bin.display());
    let (code, out, err) = dtrace(&[
        "-q",
        "-c",
        &cmd,
        "-n",
        "libstdcxx$target:::throw { @t[probemod, probefunc] = count(); } \
         libstdcxx$target:::catch { @c = count(); } \
         END { printa(\"%s %s %@d\\n\", @t); printa(\"caught %@d\\n\", @c); }",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "libstdc++.so.6 __cxa_throw 7\ncaught 7\n");
}

#[test]
fn ppid_and_vtimestamp_read_the_task() {
    let (code, out, err) = dtrace(&[
        "-q",
        "-n",
        "BEGIN { printf(\"%d %d\\n\", ppid, vtimestamp > 0); exit(0); }",
    ]);
    assert_eq!(code, 0, "{err}");
    // dtrace's parent is this test.
    assert_eq!(out, format!("{} 1\n", std::process::id()));
}

#[test]
fn review_regressions_stay_fixed() {
    // stddev squares in 128 bits; llquantize's increment counts.
    let (code, out, err) = dtrace(&[
        "-q",
        "-n",
        "BEGIN { @s = stddev(5000000000); @s = stddev(1); \
         @l = llquantize(5, 10, 0, 6, 20, 7); printa(\"%@d\\n\", @s); exit(0); }",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("2500000000\n"), "{out}");
    assert!(
        out.contains("|@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@ 7 "),
        "{out}"
    );
    // Assigning 0 frees a string thread-local.
    let (code, out, err) = dtrace(&[
        "-q",
        "-n",
        "BEGIN { self->s = \"x\"; self->s = 0; printf(\"[%s]\\n\", self->s); exit(0); }",
    ]);
    assert_eq!((code, out.as_str()), (0, "[]\n"), "{err}");
    // An error in ERROR's own clause does not fire ERROR again.
    let (code, _, err) = dtrace(&[
        "-q",
        "-n",
        "BEGIN { x = 0; y = 1 / x; } ERROR { z = 0; w = 1 / z; } tick-200ms { exit(0); }",
    ]);
    assert_eq!(code, 0);
    assert_eq!(err.matches("divide-by-zero").count(), 2, "{err}");
    // A process that is not there, a command that cannot run.
    let (code, _, err) = dtrace(&["-p", "999999999", "-n", "BEGIN"]);
    assert_eq!(
        (code, err.as_str()),
        (1, "dtrace: failed to grab pid 999999999: No such process\n")
    );
    let (code, out, err) = dtrace(&["-c", "/nonexistent/cmd", "-n", "BEGIN { trace(1); }"]);
    assert_eq!(code, 1);
    assert_eq!(out, "");
    assert_eq!(
        err,
        "dtrace: failed to execute /nonexistent/cmd: No such file or directory\n"
    );
}
