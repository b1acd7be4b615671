//! The probes this host offers, as DTrace names them
//! (`provider:module:function:name`), and where each attaches on Linux.
//!
//! - `dtrace:::BEGIN`, `END`, `ERROR`: fired by dtrace itself.
//! - `syscall:vmlinux:<call>:entry|return`: the `syscalls` tracepoints
//!   (`sys_enter_<call>`, `sys_exit_<call>`).
//! - `proc`, `sched`, `io`: DTrace's stable names over the `sched`,
//!   `signal` and `block` tracepoints (the function is the tracepoint).
//! - `profile:::profile-N`, `tick-N`: perf software clock events, any rate.
//! - `pid` and `usdt` probes are made per process (uprobes), when a program
//!   names them; `fbt` and `sdt` need kprobes or fentry, which these
//!   kernels refuse: they list nothing, and a program naming them is told
//!   why.
//!
//! Tracepoints are read from tracefs (mounted by [`tracefs::root`] when it
//! is not). IDs are assigned in listing order, as `dtrace -l` shows them.

pub mod elfsym;
pub mod format;
pub mod tracefs;

use std::fmt::Write as _;

/// Where a probe attaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attach {
    /// Fired by dtrace itself (BEGIN, END, ERROR).
    Dtrace,
    /// A tracepoint, `<category>:<name>`.
    Tracepoint { category: String, name: String },
    /// A perf software clock event every `period_ns` on every CPU
    /// (profile-N), or on one CPU (tick-N).
    Clock { period_ns: u64, every_cpu: bool },
    /// A uprobe (or, `ret`, a uretprobe) at `offset` in the file at
    /// `path`, for one process or all; for a USDT probe, `usdt` holds its
    /// note's argument operands (`-4@%edi 8@%rax`).
    Uprobe {
        path: std::path::PathBuf,
        offset: u64,
        ret: bool,
        pid: Option<u32>,
        usdt: Option<String>,
    },
}

/// One probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// Its id in `dtrace -l`.
    pub id: u32,
    pub provider: String,
    pub module: String,
    pub function: String,
    pub name: String,
    /// Where it attaches.
    pub attach: Attach,
}

/// DTrace's stable probes over Linux tracepoints: (provider, name,
/// category, tracepoint).
const STABLE: &[(&str, &str, &str, &str)] = &[
    ("proc", "create", "sched", "sched_process_fork"),
    ("proc", "exec", "sched", "sched_prepare_exec"),
    ("proc", "exec-success", "sched", "sched_process_exec"),
    ("proc", "exit", "sched", "sched_process_exit"),
    ("proc", "signal-send", "signal", "signal_generate"),
    ("proc", "signal-handle", "signal", "signal_deliver"),
    ("sched", "on-cpu", "sched", "sched_switch"),
    ("sched", "off-cpu", "sched", "sched_switch"),
    ("sched", "wakeup", "sched", "sched_wakeup"),
    ("sched", "change-pri", "sched", "sched_pi_setprio"),
    ("io", "start", "block", "block_rq_issue"),
    ("io", "done", "block", "block_rq_complete"),
];

/// The profile and tick probes `-l` lists, as illumos lists them (any
/// other rate or period may be named).
const LISTED_RATES: &[&str] = &[
    "profile-97",
    "profile-199",
    "profile-499",
    "profile-997",
    "profile-1999",
    "profile-4001",
    "profile-4999",
    "tick-1",
    "tick-10",
    "tick-100",
    "tick-500",
    "tick-1000",
    "tick-5000",
];

/// The shortest interval a profile or tick probe may have: 200 µs, as in
/// DTrace (5000 Hz).
const MIN_PERIOD_NS: u64 = 200_000;

/// Whether a description could match a probe that stands on a tracepoint
/// (syscall, proc, sched, io): when none can, the host's tracepoints need
/// not be read at all (`dtrace -n BEGIN` starts without them).
pub fn wants_tracepoints(provider: &str, name: &str) -> bool {
    let providers = ["syscall", "proc", "sched", "io"];
    let provider_ok = provider.is_empty() || providers.iter().any(|p| glob(provider, p));
    let names = STABLE
        .iter()
        .map(|(_, n, _, _)| *n)
        .chain(["entry", "return"]);
    let name_ok = name.is_empty() || names.into_iter().any(|n| glob(name, n));
    provider_ok && name_ok
}

/// Every probe, given the tracepoints the host has (`(category, name)`).
pub fn catalog(tracepoints: &[(String, String)]) -> Vec<Probe> {
    let mut out = Vec::new();
    let mut push = |provider: &str, module: &str, function: &str, name: &str, attach: Attach| {
        out.push(Probe {
            id: 0,
            provider: provider.into(),
            module: module.into(),
            function: function.into(),
            name: name.into(),
            attach,
        });
    };
    for name in ["BEGIN", "END", "ERROR"] {
        push("dtrace", "", "", name, Attach::Dtrace);
    }
    let has = |c: &str, n: &str| tracepoints.iter().any(|(a, b)| a == c && b == n);
    let mut calls: Vec<&str> = tracepoints
        .iter()
        .filter(|(c, _)| c == "syscalls")
        .filter_map(|(_, n)| n.strip_prefix("sys_enter_"))
        .collect();
    calls.sort_unstable();
    for call in calls {
        let tp = |t: String| Attach::Tracepoint {
            category: "syscalls".into(),
            name: t,
        };
        push(
            "syscall",
            "vmlinux",
            call,
            "entry",
            tp(format!("sys_enter_{call}")),
        );
        if has("syscalls", &format!("sys_exit_{call}")) {
            push(
                "syscall",
                "vmlinux",
                call,
                "return",
                tp(format!("sys_exit_{call}")),
            );
        }
    }
    for (provider, name, category, tp) in STABLE {
        if has(category, tp) {
            push(
                provider,
                "vmlinux",
                tp,
                name,
                Attach::Tracepoint {
                    category: (*category).into(),
                    name: (*tp).into(),
                },
            );
        }
    }
    for name in LISTED_RATES {
        if let Some((period_ns, every_cpu)) = clock(name) {
            push(
                "profile",
                "",
                "",
                name,
                Attach::Clock {
                    period_ns,
                    every_cpu,
                },
            );
        }
    }
    for (i, p) in out.iter_mut().enumerate() {
        p.id = u32::try_from(i + 1).unwrap_or(u32::MAX);
    }
    out
}

/// The period in nanoseconds of a `profile-N`/`tick-N` name (`N` or
/// `Nhz` a rate; `Nsec`/`Ns`, `Nms`/`Nmsec`, `Nus`/`Nusec`, `Nns`/`Nnsec`,
/// `Nmin`, `Nhour`, `Nday` a period, as DTrace takes them), and whether it
/// fires on every CPU. Refused: 0, and anything faster than 5000 Hz.
pub fn clock(name: &str) -> Option<(u64, bool)> {
    let (rest, every_cpu) = match name.strip_prefix("profile-") {
        Some(r) => (r, true),
        None => (name.strip_prefix("tick-")?, false),
    };
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let n: u64 = rest[..digits].parse().ok().filter(|n| *n > 0)?;
    let period = match &rest[digits..] {
        "" | "hz" => 1_000_000_000 / n,
        unit => {
            let ns_per: u64 = match unit {
                "ns" | "nsec" => 1,
                "us" | "usec" => 1_000,
                "ms" | "msec" => 1_000_000,
                "s" | "sec" => 1_000_000_000,
                "m" | "min" => 60_000_000_000,
                "h" | "hour" => 3_600_000_000_000,
                "d" | "day" => 86_400_000_000_000,
                _ => return None,
            };
            n.checked_mul(ns_per)?
        }
    };
    (period >= MIN_PERIOD_NS).then_some((period, every_cpu))
}

/// Whether `pattern` (DTrace's `*`, `?`, `[...]`, `\\`) matches `text`; an
/// empty pattern matches everything.
pub fn glob(pattern: &str, text: &str) -> bool {
    if pattern.is_empty() {
        return true;
    }
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // Iterative matching with one backtrack point for the last `*`: linear
    // in practice, never recursive.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
            continue;
        }
        if pi < p.len()
            && let Some(next) = one(&p, pi, t[ti])
        {
            pi = next;
            ti += 1;
            continue;
        }
        match star {
            Some((sp, st)) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Matches one character at `p[i]` (a literal, `?`, a `[...]` class or an
/// escape); the index after the pattern element, or None.
fn one(p: &[char], i: usize, c: char) -> Option<usize> {
    match p[i] {
        '?' => Some(i + 1),
        '\\' if i + 1 < p.len() => (p[i + 1] == c).then_some(i + 2),
        '[' => {
            let mut j = i + 1;
            let negate = p.get(j) == Some(&'!') || p.get(j) == Some(&'^');
            if negate {
                j += 1;
            }
            let mut hit = false;
            let mut first = true;
            while j < p.len() && (first || p[j] != ']') {
                first = false;
                if j + 2 < p.len() && p[j + 1] == '-' && p[j + 2] != ']' {
                    hit |= p[j] <= c && c <= p[j + 2];
                    j += 3;
                } else {
                    hit |= p[j] == c;
                    j += 1;
                }
            }
            if j >= p.len() {
                // No closing bracket: the `[` is a literal.
                return (c == '[').then_some(i + 1);
            }
            (hit != negate).then_some(j + 1)
        }
        lit => (lit == c).then_some(i + 1),
    }
}

/// Whether a probe matches a description's four fields (empty = any).
pub fn matches(p: &Probe, provider: &str, module: &str, function: &str, name: &str) -> bool {
    glob(provider, &p.provider)
        && glob(module, &p.module)
        && glob(function, &p.function)
        && glob(name, &p.name)
}

/// `dtrace -l`'s table: a header and one line per probe.
pub fn render_list(probes: &[&Probe]) -> String {
    let mut out = format!(
        "{:>5} {:>10} {:>17} {:>33} {}\n",
        "ID", "PROVIDER", "MODULE", "FUNCTION", "NAME"
    );
    for p in probes {
        let _ = writeln!(
            out,
            "{:>5} {:>10} {:>17} {:>33} {}",
            p.id, p.provider, p.module, p.function, p.name
        );
    }
    out
}

/// `-l -v`: each probe's row, then its stability and argument types, as
/// DTrace prints them (`None` when a probe has no typed arguments).
pub fn render_list_verbose(probes: &[&Probe], arg_types: impl Fn(&Probe) -> Vec<String>) -> String {
    let mut out = format!(
        "{:>5} {:>10} {:>17} {:>33} {}\n",
        "ID", "PROVIDER", "MODULE", "FUNCTION", "NAME"
    );
    for p in probes {
        let _ = writeln!(
            out,
            "{:>5} {:>10} {:>17} {:>33} {}",
            p.id, p.provider, p.module, p.function, p.name
        );
        let level = if p.provider == "dtrace" {
            "Stable"
        } else {
            "Evolving"
        };
        for what in ["Probe Description Attributes", "Argument Attributes"] {
            let _ = write!(
                out,
                "\n\t{what}\n\t\tIdentifier Names: {level}\n\t\tData Semantics:   {level}\n\t\tDependency Class: Common\n"
            );
        }
        out.push_str("\n\tArgument Types\n");
        let types = arg_types(p);
        if types.is_empty() {
            out.push_str("\t\tNone\n");
        }
        for (i, t) in types.iter().enumerate() {
            let _ = writeln!(out, "\t\targs[{i}]: {t}");
        }
        out.push('\n');
    }
    out
}

/// The C types of a tracepoint probe's `args[]`, from its record's fields:
/// a syscall's arguments after its number, a syscall return's value, any
/// other tracepoint's fields.
pub fn tracepoint_arg_types(category: &str, name: &str, fields: &[format::Field]) -> Vec<String> {
    let skip = usize::from(category == "syscalls");
    let mut out: Vec<String> = fields
        .iter()
        .skip(skip)
        .map(|f| f.ty.trim_start_matches("__data_loc ").to_owned())
        .collect();
    if category == "syscalls" && name.starts_with("sys_exit_") {
        out.truncate(1);
    }
    out
}

#[cfg(test)]
mod tests;
