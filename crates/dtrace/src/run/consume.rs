//! Records to text: each record as its action prints it, the probe's line
//! before a firing's output unless quiet, aggregations when asked and at
//! the end, drops and runtime errors on stderr as DTrace reports them.

use std::collections::HashMap;
use std::io::Write;

use crate::compile::maps;
use crate::compile::{Action, Record, Ty};
use crate::output::agg::{self, Entry, KeyPart};
use crate::output::printf::Arg;
use crate::output::trace::{self, DropKind};
use crate::output::walltime::Utc;
use crate::probes::elfsym::Symbolizer;

use super::ksyms::KernelSymbols;
use super::{RunError, Session};

/// What the consumer writes and remembers.
pub struct Consumer<'w> {
    out: &'w mut dyn Write,
    quiet: bool,
    header_done: bool,
    line_open: bool,
    /// The record before, to tell a firing's next action from a new
    /// firing.
    last: Option<(usize, u32)>,
    /// `exit(n)`'s status, once a program called it.
    pub exit: Option<i32>,
    factors: HashMap<usize, i64>,
    printed: Vec<bool>,
    ksyms: Option<KernelSymbols>,
    /// Per process; `None` when its maps could not be read (it ended).
    usyms: HashMap<u32, Option<Symbolizer>>,
    drops_seen: Vec<Vec<u64>>,
}

/// A decoded value of a record or key.
enum Value<'a> {
    Int { value: u64, signed: bool, size: u8 },
    Str(&'a [u8]),
    Stack { user: bool, id: u32, pid: u32 },
}

fn word(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .map(u64::from_le_bytes)
        .unwrap_or(0)
}

/// Splits `bytes` into values of `types`, in order.
fn decode<'a>(types: &[Ty], bytes: &'a [u8]) -> Vec<Value<'a>> {
    let mut at = 0usize;
    let mut out = Vec::with_capacity(types.len());
    for t in types {
        let n = t.bytes() as usize;
        let chunk = bytes.get(at..at + n).unwrap_or(&[]);
        out.push(match *t {
            Ty::Int { size, signed } => Value::Int {
                value: word(bytes, at),
                signed,
                size,
            },
            Ty::Str { .. } => {
                let end = chunk.iter().position(|&b| b == 0).unwrap_or(chunk.len());
                Value::Str(&chunk[..end])
            }
            Ty::Stack { user } => Value::Stack {
                user,
                id: word(bytes, at) as u32,
                pid: word(bytes, at + 8) as u32,
            },
            Ty::Void => Value::Int {
                value: 0,
                signed: false,
                size: 8,
            },
        });
        at += n;
    }
    out
}

impl<'w> Consumer<'w> {
    pub fn new(out: &'w mut dyn Write, quiet: bool, aggs: usize) -> Self {
        Consumer {
            out,
            quiet,
            header_done: false,
            line_open: false,
            last: None,
            exit: None,
            factors: HashMap::new(),
            printed: vec![false; aggs],
            ksyms: None,
            usyms: HashMap::new(),
            drops_seen: Vec::new(),
        }
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), RunError> {
        self.out
            .write_all(bytes)
            .map_err(super::io_err("failed to write output"))
    }

    /// One record from the ring buffer.
    pub fn record(&mut self, s: &Session, bytes: &[u8]) -> Result<(), RunError> {
        let id = word(bytes, 0) as u32 as usize;
        let cpu = (word(bytes, 0) >> 32) as u32;
        let Some(rec) = s.compiled.records.get(id) else {
            return Ok(());
        };
        let values = decode(&rec.fields, bytes.get(8..).unwrap_or(&[]));
        match &rec.action {
            Action::Exit => {
                if self.exit.is_none() {
                    let status = match values.first() {
                        Some(Value::Int { value, .. }) => *value as i32,
                        _ => 0,
                    };
                    self.exit = Some(status);
                }
                return Ok(());
            }
            Action::Error(what) => {
                // DTrace's words; there is no DIF here, so no offset to give.
                let p = &s.compiled.sites[rec.site].probe;
                let probe = format!("{}:{}:{}:{}", p.provider, p.module, p.function, p.name);
                let line =
                    trace::error_message(id as u32 + 1, p.id, &probe, what, rec.action_no, None);
                eprintln!("{line}");
                // ERROR's clauses, with DTrace's arguments: arg1 the
                // enabled probe, arg2 the action, arg4 the fault as DTrace
                // numbers them (4 divide-by-zero, else 1, a bad address).
                // Not for an error in ERROR's own clauses, which would fire
                // ERROR again without end.
                let fault = if *what == "divide-by-zero" { 4 } else { 1 };
                if p.name != "ERROR" {
                    s.fire(
                        "ERROR",
                        &[0, id as u64 + 1, u64::from(rec.action_no), 0, fault, 0],
                    )?;
                }
                return Ok(());
            }
            Action::Clear(n) => return self.clear(s, *n, false),
            Action::Trunc { agg } => {
                let keep = match values.first() {
                    Some(Value::Int { value, .. }) => Some(*value as i64),
                    _ => None,
                };
                return self.trunc(s, *agg, keep);
            }
            Action::Normalize(n) => {
                if let Some(Value::Int { value, .. }) = values.first() {
                    self.factors.insert(*n, (*value as i64).max(1));
                }
                return Ok(());
            }
            Action::Denormalize(n) => {
                self.factors.remove(n);
                return Ok(());
            }
            _ => {}
        }
        self.probe_line(s, rec, cpu)?;
        let mut buf = Vec::new();
        match &rec.action {
            Action::Default => {}
            Action::Trace => {
                for v in &values {
                    match v {
                        Value::Stack { user, id, pid } => {
                            let frames = self.frames(s, *user, *id, *pid);
                            trace::stack(&mut buf, &frames);
                        }
                        other if self.quiet => trace::trace_value_quiet(&mut buf, &as_arg(other)),
                        other => trace::trace_value(&mut buf, &as_arg(other)),
                    }
                }
            }
            Action::Printf(fmt) => {
                let args: Vec<Arg> = values.iter().map(as_arg).collect();
                fmt.render(&mut buf, &args);
            }
            Action::Printa { agg, format } => {
                self.printed[*agg] = true;
                self.print_agg(s, *agg, format.as_ref(), false, &mut buf)?;
            }
            _ => {}
        }
        self.write(&buf)
    }

    /// The probe's line (`CPU ID FUNCTION:NAME`) before a firing's output,
    /// unless quiet.
    fn probe_line(&mut self, s: &Session, rec: &Record, cpu: u32) -> Result<(), RunError> {
        let new_firing = match self.last {
            Some((site, n)) => site != rec.site || rec.action_no <= n,
            None => true,
        };
        self.last = Some((rec.site, rec.action_no));
        if self.quiet || !new_firing {
            return Ok(());
        }
        let mut buf = Vec::new();
        if self.line_open {
            buf.push(b'\n');
        }
        if !self.header_done {
            trace::header(&mut buf);
            self.header_done = true;
        }
        let p = &s.compiled.sites[rec.site].probe;
        trace::probe_line(&mut buf, cpu, p.id, &p.function, &p.name);
        self.line_open = true;
        self.write(&buf)
    }

    /// Ends the last probe line (at the end of a run).
    pub fn finish_line(&mut self) -> Result<(), RunError> {
        if self.line_open {
            self.line_open = false;
            self.write(b"\n")?;
        }
        self.out
            .flush()
            .map_err(super::io_err("failed to write output"))
    }

    /// Reads a process's mappings and symbols while it lives (the target
    /// of `-c` or `-p`), so its stacks print with symbols after it has
    /// ended. Not before it has exec'd: a process still running this
    /// program's image is not the one to name.
    pub fn watch_process(&mut self, pid: u32) {
        if matches!(self.usyms.get(&pid), Some(Some(_))) {
            return;
        }
        let exe = std::fs::read_link(format!("/proc/{pid}/exe"));
        let me = std::fs::read_link("/proc/self/exe");
        if let (Ok(exe), Ok(me)) = (exe, me)
            && exe != me
            && let Ok(sym) = Symbolizer::new(pid)
        {
            self.usyms.insert(pid, Some(sym));
        }
    }

    fn frames(&mut self, s: &Session, user: bool, id: u32, pid: u32) -> Vec<String> {
        let ips = s.stack_frames(user, id);
        if user {
            let sym = self
                .usyms
                .entry(pid)
                .or_insert_with(|| Symbolizer::new(pid).ok());
            ips.iter()
                .map(|&ip| match sym {
                    Some(sym) => sym.frame(ip),
                    None => format!("{ip:#x}"),
                })
                .collect()
        } else {
            let k = self
                .ksyms
                .get_or_insert_with(|| KernelSymbols::read().unwrap_or_default());
            ips.iter().map(|&ip| k.frame(ip)).collect()
        }
    }

    fn print_agg(
        &mut self,
        s: &Session,
        n: usize,
        format: Option<&crate::output::printf::Format>,
        end: bool,
        buf: &mut Vec<u8>,
    ) -> Result<(), RunError> {
        let a = &s.compiled.syms.aggs[n];
        let raw = s.agg_entries(n)?;
        let factor = self.factors.get(&n).copied().unwrap_or(1);
        // Keys decoded; stacks made lines first (they borrow nothing).
        let mut stacks: Vec<Vec<Vec<String>>> = Vec::with_capacity(raw.len());
        for (k, _) in &raw {
            let mut lines = Vec::new();
            for v in decode(&a.keys, k) {
                if let Value::Stack { user, id, pid } = v {
                    lines.push(self.frames(s, user, id, pid));
                }
            }
            stacks.push(lines);
        }
        let mut entries: Vec<Entry> = raw
            .iter()
            .zip(stacks)
            .map(|((k, per_cpu), stacks)| {
                let cpus: Vec<&[i64]> = per_cpu.iter().map(|v| v.as_slice()).collect();
                let value = a.kind.combine(&cpus);
                let mut stacks = stacks.into_iter();
                let key = decode(&a.keys, k)
                    .into_iter()
                    .map(|v| match v {
                        Value::Int {
                            value,
                            signed,
                            size,
                        } => KeyPart::Int {
                            value,
                            signed,
                            size,
                        },
                        Value::Str(b) => KeyPart::Str(b),
                        Value::Stack { .. } => KeyPart::Lines(stacks.next().unwrap_or_default()),
                    })
                    .collect();
                Entry { key, value }
            })
            .collect();
        // Normalized as DTrace does: sorted and drawn from the raw values,
        // the printed ones divided.
        let opts = agg::PrintOptions {
            normal: factor.max(1) as u64,
            ..agg::PrintOptions::default()
        };
        match (format, end) {
            (Some(f), _) => agg::printa_with(buf, f, &a.kind, &mut entries, &opts, &Utc),
            (None, false) => agg::print_aggregation_with(buf, &a.kind, &mut entries, &opts),
            (None, true) => agg::print_entries(buf, &a.kind, &mut entries, &opts),
        }
        Ok(())
    }

    /// Prints every aggregation not printed with `printa()`, in order, as
    /// DTrace does at the end of a run: one newline, then each.
    pub fn print_remaining(&mut self, s: &Session) -> Result<(), RunError> {
        self.finish_line()?;
        let left: Vec<usize> = (0..s.compiled.syms.aggs.len())
            .filter(|&n| !self.printed.get(n).copied().unwrap_or(false))
            .collect();
        if !left.is_empty() {
            self.write(b"\n")?;
        }
        for n in left {
            let mut buf = Vec::new();
            self.print_agg(s, n, None, true, &mut buf)?;
            self.write(&buf)?;
        }
        self.out
            .flush()
            .map_err(super::io_err("failed to write output"))
    }

    fn clear(&mut self, s: &Session, n: usize, _all: bool) -> Result<(), RunError> {
        let keys: Vec<Vec<u8>> = s.agg_entries(n)?.into_iter().map(|(k, _)| k).collect();
        s.agg_zero(n, &keys)
    }

    /// `trunc(@a)` removes every entry; `trunc(@a, n)` keeps the n largest
    /// (the n smallest for a negative n).
    fn trunc(&mut self, s: &Session, n: usize, keep: Option<i64>) -> Result<(), RunError> {
        let a = &s.compiled.syms.aggs[n];
        let mut entries: Vec<(Vec<u8>, Vec<i64>)> = s
            .agg_entries(n)?
            .into_iter()
            .map(|(k, per_cpu)| {
                let cpus: Vec<&[i64]> = per_cpu.iter().map(|v| v.as_slice()).collect();
                let v = a.kind.combine(&cpus);
                (k, v)
            })
            .collect();
        entries.sort_by_key(|(_, v)| agg::sort_value(&a.kind, v));
        let doomed: Vec<Vec<u8>> = match keep {
            None | Some(0) => entries.into_iter().map(|(k, _)| k).collect(),
            Some(k) if k > 0 => {
                let cut = entries.len().saturating_sub(k as usize);
                entries.into_iter().take(cut).map(|(k, _)| k).collect()
            }
            Some(k) => entries
                .into_iter()
                .skip(k.unsigned_abs() as usize)
                .map(|(k, _)| k)
                .collect(),
        };
        s.agg_delete(n, &doomed)
    }

    /// Reports drops counted since the last call, on stderr.
    pub fn report_drops(&mut self, s: &Session) -> Result<(), RunError> {
        let now = s.drops()?;
        if self.drops_seen.is_empty() {
            self.drops_seen = now.iter().map(|v| vec![0; v.len()]).collect();
        }
        let mut err = std::io::stderr();
        for (kind, (cpus, seen)) in now.iter().zip(self.drops_seen.iter_mut()).enumerate() {
            let kind = match kind as i32 {
                maps::DROP_RECORD => DropKind::Principal,
                maps::DROP_DYNVAR => DropKind::Dynamic,
                _ => DropKind::Aggregation,
            };
            let fresh: Vec<(usize, u64)> = cpus
                .iter()
                .zip(seen.iter_mut())
                .enumerate()
                .filter(|(_, (n, s))| **n > **s)
                .map(|(cpu, (n, s))| {
                    let d = n - *s;
                    *s = *n;
                    (cpu, d)
                })
                .collect();
            if kind == DropKind::Dynamic {
                // Reported for the whole system, as DTrace does.
                let total: u64 = fresh.iter().map(|(_, d)| d).sum();
                if total > 0 {
                    let _ = writeln!(err, "{}", trace::drops_message(kind, total, 0));
                }
                continue;
            }
            for (cpu, d) in fresh {
                let _ = writeln!(err, "{}", trace::drops_message(kind, d, cpu as u32));
            }
        }
        Ok(())
    }
}

fn as_arg<'a>(v: &Value<'a>) -> Arg<'a> {
    match v {
        Value::Int {
            value,
            signed,
            size,
        } => Arg::Int {
            value: *value,
            signed: *signed,
            size: *size,
        },
        Value::Str(b) => Arg::Str(b),
        Value::Stack { id, .. } => Arg::Int {
            value: *id as u64,
            signed: false,
            size: 8,
        },
    }
}
