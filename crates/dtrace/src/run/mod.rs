//! Running a compiled program: its object loaded and attached, BEGIN fired,
//! records consumed and printed as they come, then END and the
//! aggregations.
//!
//! Everything attached belongs to the [`Session`]: dropping it (or the
//! process ending, however it ends) closes the descriptors and so detaches
//! every probe — nothing is pinned.

pub mod consume;
pub mod ksyms;
pub mod resolve;
pub mod zones;

use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

use aya::Ebpf;
use aya::maps::{MapData, RingBuf};
use aya::programs::perf_event::{PerfEventConfig, PerfEventScope, SamplePolicy, SoftwareEvent};
use aya::programs::uprobe::UProbeScope;
use aya::programs::{PerfEvent, RawTracePoint, TracePoint, UProbe};

use crate::bpf::load::{self, LoadError, Loader};
use crate::bpf::sys;
use crate::compile::{Compiled, Ctx, maps};
use crate::probes::Attach;

pub use consume::Consumer;

/// Why a program could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The kernel refused a program (the verifier's log is in the source).
    #[error("failed to enable '{probe}'")]
    Load {
        probe: String,
        /// The program's name in the object (empty when the object as a
        /// whole was refused).
        program: String,
        #[source]
        source: LoadError,
    },
    #[error("failed to enable '{probe}': {reason}")]
    Attach { probe: String, reason: String },
    #[error("{what}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> RunError {
    let what = what.into();
    move |source| RunError::Io { what, source }
}

/// An aggregation's entry as the map holds it: its key's bytes, and its
/// words on each CPU.
pub type AggEntry = (Vec<u8>, Vec<Vec<i64>>);

/// A loaded, attached program.
pub struct Session {
    ebpf: Ebpf,
    events: RingBuf<MapData>,
    pub compiled: Compiled,
    /// Raw fds of the programs dtrace fires itself, by probe name.
    fired: Vec<(String, String)>,
}

impl Session {
    /// Loads every program and attaches every probe but dtrace's own.
    pub fn start(compiled: Compiled, loader: &mut Loader) -> Result<Session, RunError> {
        let mut ebpf = loader
            .open(&compiled.elf)
            .map_err(|source| RunError::Load {
                probe: "the program".into(),
                program: String::new(),
                source,
            })?;
        let mut fired = Vec::new();
        let cpus = aya::util::online_cpus().map_err(|(what, source)| RunError::Io {
            what: format!("failed to read {what}"),
            source,
        })?;
        for prog in &compiled.programs {
            let site = &compiled.sites[prog.site];
            let p = &site.probe;
            let probe = format!("{}:{}:{}:{}", p.provider, p.module, p.function, p.name);
            let load_err = |source| RunError::Load {
                probe: probe.clone(),
                program: prog.name.clone(),
                source,
            };
            let attach_err = |e: aya::programs::ProgramError| RunError::Attach {
                probe: probe.clone(),
                reason: e.to_string(),
            };
            match (&site.ctx, &p.attach) {
                (Ctx::Dtrace, _) => {
                    load::load_program::<RawTracePoint>(&mut ebpf, &prog.name).map_err(load_err)?;
                    fired.push((p.name.clone(), prog.name.clone()));
                }
                (Ctx::Tracepoint { .. }, Attach::Tracepoint { category, name }) => {
                    let tp = load::load_program::<TracePoint>(&mut ebpf, &prog.name)
                        .map_err(load_err)?;
                    tp.attach(category, name).map_err(attach_err)?;
                }
                (
                    Ctx::Clock,
                    Attach::Clock {
                        period_ns,
                        every_cpu,
                    },
                ) => {
                    let pe =
                        load::load_program::<PerfEvent>(&mut ebpf, &prog.name).map_err(load_err)?;
                    let on: Vec<u32> = if *every_cpu {
                        cpus.clone()
                    } else {
                        cpus.iter().take(1).copied().collect()
                    };
                    for cpu in on {
                        pe.attach(
                            PerfEventConfig::Software(SoftwareEvent::CpuClock),
                            PerfEventScope::AllProcessesOneCpu { cpu },
                            SamplePolicy::Period(*period_ns),
                            false,
                        )
                        .map_err(attach_err)?;
                    }
                }
                (
                    Ctx::Uprobe { .. } | Ctx::Usdt { .. },
                    Attach::Uprobe {
                        path, offset, pid, ..
                    },
                ) => {
                    let up =
                        load::load_program::<UProbe>(&mut ebpf, &prog.name).map_err(load_err)?;
                    let scope = match pid.and_then(std::num::NonZeroU32::new) {
                        Some(pid) => UProbeScope::OneProcess(pid),
                        None => UProbeScope::AllProcesses,
                    };
                    up.attach(*offset, path, scope).map_err(attach_err)?;
                }
                _ => {
                    return Err(RunError::Attach {
                        probe,
                        reason: "internal error: the probe and its program's kind differ".into(),
                    });
                }
            }
        }
        let map = ebpf
            .take_map(maps::EVENTS)
            .ok_or_else(|| RunError::Attach {
                probe: "the program".into(),
                reason: "the object has no events map".into(),
            })?;
        let events = RingBuf::try_from(map).map_err(|e| RunError::Attach {
            probe: "the program".into(),
            reason: e.to_string(),
        })?;
        Ok(Session {
            ebpf,
            events,
            compiled,
            fired,
        })
    }

    /// Writes the wall-clock offset `walltimestamp` adds to the monotonic
    /// clock.
    pub fn set_walltime(&mut self) -> Result<(), RunError> {
        let real = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let mono = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
        let mono = mono.tv_sec as u64 * 1_000_000_000 + mono.tv_nsec as u64;
        let mut value = vec![0u8; self.compiled.globals_bytes as usize];
        value[..8].copy_from_slice(&real.wrapping_sub(mono).to_le_bytes());
        let fd = self.map_fd(maps::GLOBALS)?;
        sys::map_update(fd.as_fd(), &0u32.to_le_bytes(), &value, 0)
            .map_err(io_err("failed to set the wall clock offset"))
    }

    /// Fills the zones map: every zone's unified cgroup id and name.
    pub fn set_zones(&mut self, names: &[(u64, String)]) -> Result<(), RunError> {
        let fd = self.map_fd(maps::ZONES)?;
        for (id, name) in names {
            let mut value = vec![0u8; crate::compile::codegen::ZONENAME_LEN as usize];
            let n = name.len().min(value.len() - 1);
            value[..n].copy_from_slice(&name.as_bytes()[..n]);
            sys::map_update(fd.as_fd(), &id.to_le_bytes(), &value, 0)
                .map_err(io_err("failed to fill the zones map"))?;
        }
        Ok(())
    }

    /// Fires every clause of dtrace's own probe `name` (BEGIN, END,
    /// ERROR) in this thread, with `args` as arg0….
    pub fn fire(&self, name: &str, args: &[u64]) -> Result<(), RunError> {
        let progs: Vec<String> = self
            .fired
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, p)| p.clone())
            .collect();
        for prog in progs {
            let p: &RawTracePoint = self
                .ebpf
                .program(&prog)
                .and_then(|p| p.try_into().ok())
                .ok_or_else(|| RunError::Attach {
                    probe: name.into(),
                    reason: "internal error: its program is missing".into(),
                })?;
            let fd = p.fd().map_err(|e| RunError::Attach {
                probe: name.into(),
                reason: e.to_string(),
            })?;
            let mut ctx = [0u64; 10];
            for (c, a) in ctx.iter_mut().zip(args) {
                *c = *a;
            }
            sys::prog_test_run(fd.as_fd(), &ctx)
                .map_err(io_err(format!("failed to fire dtrace:::{name}")))?;
        }
        Ok(())
    }

    /// Stops every probe but dtrace's own at once, in the kernel: their
    /// programs return on entry from now on (detaching them, which waits
    /// for the kernel, comes after the output).
    pub fn stop(&mut self) -> Result<(), RunError> {
        let fd = self.map_fd(maps::GLOBALS)?;
        let mut value = vec![0u8; self.compiled.globals_bytes as usize];
        sys::map_lookup(fd.as_fd(), &0u32.to_le_bytes(), &mut value)
            .map_err(io_err("failed to read the globals"))?;
        let at = crate::compile::types::STOPPED as usize;
        value[at..at + 8].copy_from_slice(&1u64.to_le_bytes());
        sys::map_update(fd.as_fd(), &0u32.to_le_bytes(), &value, 0)
            .map_err(io_err("failed to stop the probes"))
    }

    /// Detaches every probe (dtrace's own stay). The kernel waits for a
    /// grace period per tracepoint, so for hundreds of probes this takes
    /// seconds: it comes after the output (see [`Session::stop`]).
    pub fn stop_tracing(&mut self) {
        let fired: Vec<String> = self.fired.iter().map(|(_, p)| p.clone()).collect();
        for (name, prog) in self.ebpf.programs_mut() {
            if fired.iter().any(|f| f == name) {
                continue;
            }
            // Unloading detaches every link of the program.
            let _ = match prog {
                aya::programs::Program::TracePoint(p) => p.unload(),
                aya::programs::Program::PerfEvent(p) => p.unload(),
                aya::programs::Program::UProbe(p) => p.unload(),
                _ => Ok(()),
            };
        }
    }

    /// Waits up to `timeout` for records, then hands every waiting one to
    /// the consumer.
    pub fn poll(&mut self, consumer: &mut Consumer, timeout: Duration) -> Result<(), RunError> {
        let mut fds = [nix::poll::PollFd::new(
            self.events.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
        match nix::poll::poll(&mut fds, ms) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(io_err("failed to wait for records")(e.into())),
        }
        self.drain(consumer)
    }

    /// Hands every waiting record to the consumer.
    pub fn drain(&mut self, consumer: &mut Consumer) -> Result<(), RunError> {
        // Copied out first: the ring buffer is borrowed while it is read,
        // and the consumer reads maps. At most a buffer's worth at a time,
        // so that producers faster than this consumer cannot keep it here.
        let mut pending = Vec::new();
        let mut bytes = 0usize;
        let limit = self.compiled.options.bufsize as usize;
        while bytes < limit
            && let Some(item) = self.events.next()
        {
            bytes += item.len() + 8;
            pending.push(item.to_vec());
        }
        for r in pending {
            consumer.record(self, &r)?;
        }
        Ok(())
    }

    /// A map's descriptor, by name.
    pub fn map_fd(&self, name: &str) -> Result<std::os::fd::BorrowedFd<'_>, RunError> {
        let map = self.ebpf.map(name).ok_or_else(|| RunError::Attach {
            probe: "the program".into(),
            reason: format!("the object has no map {name}"),
        })?;
        Ok(map_data(map).fd().as_fd())
    }

    /// The stack map for kernel or user stacks.
    pub fn stack_frames(&self, user: bool, id: u32) -> Vec<u64> {
        let name = if user { maps::USTACKS } else { maps::KSTACKS };
        let Some(map) = self.ebpf.map(name) else {
            return Vec::new();
        };
        let Ok(stacks) = aya::maps::StackTraceMap::<&MapData>::try_from(map) else {
            return Vec::new();
        };
        stacks
            .get(&id, 0)
            .map(|s| s.frames().iter().map(|f| f.ip).collect())
            .unwrap_or_default()
    }

    /// The drop counters, per kind, per CPU.
    pub fn drops(&self) -> Result<Vec<Vec<u64>>, RunError> {
        let fd = self.map_fd(maps::DROPS)?;
        let cpus = sys::possible_cpus().map_err(io_err("failed to count the CPUs"))?;
        let mut out = Vec::new();
        for k in 0..maps::DROP_KINDS {
            let mut value = vec![0u8; 8 * cpus];
            sys::map_lookup(fd.as_fd(), &k.to_le_bytes(), &mut value)
                .map_err(io_err("failed to read the drop counters"))?;
            out.push(
                value
                    .chunks_exact(8)
                    .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                    .collect(),
            );
        }
        Ok(out)
    }

    /// An aggregation's entries: key bytes and per-CPU words.
    pub fn agg_entries(&self, agg: usize) -> Result<Vec<AggEntry>, RunError> {
        let a = &self.compiled.syms.aggs[agg];
        let fd = self.map_fd(&a.map)?;
        let words = a.kind.words();
        let len = sys::percpu_value_len(words * 8).map_err(io_err("failed to count the CPUs"))?;
        let entries = sys::map_entries(fd.as_fd(), a.key_bytes() as usize, len)
            .map_err(io_err(format!("failed to read aggregation @{}", a.name)))?;
        Ok(entries
            .into_iter()
            .map(|(k, v)| {
                let per_cpu = v
                    .chunks_exact(words * 8)
                    .map(|cpu| {
                        cpu.chunks_exact(8)
                            .map(|w| i64::from_le_bytes(w.try_into().unwrap_or([0; 8])))
                            .collect()
                    })
                    .collect();
                (k, per_cpu)
            })
            .collect())
    }

    /// Sets an aggregation entry's words on every CPU (clear, normalize).
    pub fn agg_zero(&self, agg: usize, keys: &[Vec<u8>]) -> Result<(), RunError> {
        let a = &self.compiled.syms.aggs[agg];
        let fd = self.map_fd(&a.map)?;
        let len = sys::percpu_value_len(a.value_bytes() as usize)
            .map_err(io_err("failed to count the CPUs"))?;
        let zero = vec![0u8; len];
        for k in keys {
            // An entry deleted meanwhile is fine: it is gone.
            let _ = sys::map_update(fd.as_fd(), k, &zero, 2);
        }
        Ok(())
    }

    pub fn agg_delete(&self, agg: usize, keys: &[Vec<u8>]) -> Result<(), RunError> {
        let a = &self.compiled.syms.aggs[agg];
        let fd = self.map_fd(&a.map)?;
        for k in keys {
            let _ = sys::map_delete(fd.as_fd(), k);
        }
        Ok(())
    }

    /// The raw descriptor of the ring buffer (for callers that wait on
    /// several things at once).
    pub fn events_fd(&self) -> i32 {
        self.events.as_fd().as_raw_fd()
    }
}

/// The map data behind any kind of map.
fn map_data(map: &aya::maps::Map) -> &MapData {
    use aya::maps::Map;
    match map {
        Map::Array(m)
        | Map::BloomFilter(m)
        | Map::CpuMap(m)
        | Map::DevMap(m)
        | Map::DevMapHash(m)
        | Map::HashMap(m)
        | Map::LpmTrie(m)
        | Map::LruHashMap(m)
        | Map::PerCpuArray(m)
        | Map::PerCpuHashMap(m)
        | Map::PerCpuLruHashMap(m)
        | Map::PerfEventArray(m)
        | Map::ProgramArray(m)
        | Map::Queue(m)
        | Map::RingBuf(m)
        | Map::SockHash(m)
        | Map::SockMap(m)
        | Map::Stack(m)
        | Map::StackTraceMap(m)
        | Map::Unsupported(m)
        | Map::XskMap(m) => m,
        _ => unreachable_map(map),
    }
}

fn unreachable_map(map: &aya::maps::Map) -> &MapData {
    // Every kind aya has wraps a MapData; new kinds fall back to the
    // generic accessor when aya offers one.
    match map {
        aya::maps::Map::Unsupported(m) => m,
        _ => panic!("a map kind without data"),
    }
}
