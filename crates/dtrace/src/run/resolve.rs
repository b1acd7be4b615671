//! A program's probe descriptions against what this host offers: the
//! sites the compiler makes a program for, each with its context's layout
//! read from tracefs.

use std::path::Path;

use crate::compile::{Ctx, Site, TpKind, UsdtLoc};
use crate::parse::{self, ProbeSpec};
use crate::probes::elfsym::{self, UsdtArg};
use crate::probes::{self, Attach, Probe, tracefs};

/// Why a description could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// DTrace's message, `probe description P does not match any probes`,
    /// and the clause it is in.
    #[error("probe description {desc} does not match any probes")]
    NoMatch { desc: String, clause: usize },
    /// A provider these kernels cannot offer, and why.
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Tracefs(#[from] tracefs::TracefsError),
}

/// The probes each clause of `program` names, merged into sites in probe
/// order; `zero_ok` (`-Z`) lets a description match nothing.
pub fn sites(
    program: &parse::Program,
    catalog: &[Probe],
    tracefs_root: &Path,
    zero_ok: bool,
) -> Result<Vec<Site>, ResolveError> {
    let mut matched: Vec<(usize, Vec<usize>)> = Vec::new();
    for (ci, clause) in program.clauses.iter().enumerate() {
        for spec in &clause.probes {
            unavailable(spec)?;
            let mut n = 0;
            for (pi, p) in catalog.iter().enumerate() {
                if !spec_matches(p, spec) {
                    continue;
                }
                n += 1;
                match matched.iter_mut().find(|(i, _)| *i == pi) {
                    Some((_, cs)) => {
                        if !cs.contains(&ci) {
                            cs.push(ci);
                        }
                    }
                    None => matched.push((pi, vec![ci])),
                }
            }
            if n == 0 && !zero_ok {
                return Err(ResolveError::NoMatch {
                    desc: spec.raw.clone(),
                    clause: ci,
                });
            }
        }
    }
    matched.sort_by_key(|(pi, _)| *pi);
    let mut out = Vec::with_capacity(matched.len());
    for (pi, mut clauses) in matched {
        clauses.sort();
        let probe = catalog[pi].clone();
        let ctx = context(&probe, tracefs_root)?;
        out.push(Site {
            probe,
            ctx,
            clauses,
        });
    }
    Ok(out)
}

/// Whether a probe answers a description (an empty field matches all).
pub fn spec_matches(p: &Probe, spec: &ProbeSpec) -> bool {
    probes::matches(p, &spec.provider, &spec.module, &spec.function, &spec.name)
}

/// Providers that need what these kernels lack say so.
fn unavailable(spec: &ProbeSpec) -> Result<(), ResolveError> {
    let provider = spec.provider.as_str();
    if provider == "fbt" || provider == "sdt" || provider == "fpuinfo" || provider == "lockstat" {
        return Err(ResolveError::Unavailable(format!(
            "probe description {}: the {provider} provider needs kprobes or fentry, which this \
             kernel does not offer",
            spec.raw
        )));
    }
    Ok(())
}

/// A USDT note's operands as argument locations.
fn usdt_args(operands: &str) -> Result<Vec<UsdtLoc>, ResolveError> {
    let bad = |e: &dyn std::fmt::Display| ResolveError::Unavailable(e.to_string());
    let reg = |r: &str| {
        elfsym::pt_regs_offset(r).map(|o| o as u32).ok_or_else(|| {
            ResolveError::Unavailable(format!("unknown register {r} in a USDT note"))
        })
    };
    let sized = |size: i8| (size.unsigned_abs(), size < 0);
    elfsym::parse_usdt_args(operands)
        .map_err(|e| bad(&e))?
        .into_iter()
        .map(|a| {
            Ok(match a {
                UsdtArg::Reg { size, reg: r } => {
                    let (size, signed) = sized(size);
                    UsdtLoc::Reg {
                        off: reg(&r)?,
                        size,
                        signed,
                    }
                }
                UsdtArg::Mem { size, base, offset } => {
                    let (size, signed) = sized(size);
                    UsdtLoc::Mem {
                        base: reg(&base)?,
                        offset,
                        size,
                        signed,
                    }
                }
                UsdtArg::Const { value, .. } => UsdtLoc::Const(value),
            })
        })
        .collect()
}

/// The context a probe's program gets.
fn context(p: &Probe, root: &Path) -> Result<Ctx, ResolveError> {
    Ok(match &p.attach {
        Attach::Dtrace => Ctx::Dtrace,
        Attach::Clock { .. } => Ctx::Clock,
        Attach::Uprobe {
            usdt: Some(operands),
            ..
        } => Ctx::Usdt {
            args: usdt_args(operands)?,
        },
        Attach::Uprobe { ret, .. } => Ctx::Uprobe { ret: *ret },
        Attach::Tracepoint { category, name } => {
            let format = tracefs::format_of(root, category, name)?;
            let kind = if category == "syscalls" && name.starts_with("sys_enter_") {
                TpKind::SyscallEntry
            } else if category == "syscalls" && name.starts_with("sys_exit_") {
                TpKind::SyscallReturn
            } else if p.provider == "sched" && p.name == "on-cpu" {
                TpKind::OnCpu
            } else {
                TpKind::Other
            };
            let skip = usize::from(category == "syscalls");
            Ctx::Tracepoint {
                fields: format.fields,
                skip,
                kind,
            }
        }
    })
}
