//! `sysinfo [-f] [-p] [-u] [-?]`: the node's identity and hardware.
//!
//! Exit status: 0 on success, 1 when sysinfo cannot be gathered or cached
//! (one line on stderr says what failed), 2 on a usage error.

use std::ffi::OsString;
use std::io::{self, Write};
use std::process::ExitCode;

use basalt_node::paths::Paths;
use basalt_node::sysinfo::{self, Host};

const USAGE: &str = "\
Usage: sysinfo [-f] [-p] [-u] [-?]

Print this node's identity and hardware as JSON, from the cache when there
is one (the cache is made on first use).

  -f    refresh the cache, then print
  -p    print bash-sourceable Key='value' lines instead of JSON
  -u    refresh the cache only; print nothing
  -?    print this help and exit (also -h)
";

/// What the command line asks for.
#[derive(Debug, Default, PartialEq, Eq)]
struct Opts {
    force: bool,
    parsable: bool,
    update_only: bool,
    help: bool,
}

/// Parses the arguments getopts-style: single-letter flags, which may be
/// bundled (`-fp`); `--` ends them; no operands.
fn parse_args(args: impl IntoIterator<Item = OsString>) -> Result<Opts, String> {
    let mut opts = Opts::default();
    let mut args = args.into_iter();
    for arg in args.by_ref() {
        let arg = arg.to_string_lossy().into_owned();
        if arg == "--" {
            break;
        }
        if arg == "--help" {
            opts.help = true;
            continue;
        }
        let flags = match arg.strip_prefix('-') {
            Some(flags) if !flags.is_empty() && !flags.starts_with('-') => flags,
            _ => return Err(format!("unexpected argument {arg:?}")),
        };
        for flag in flags.chars() {
            match flag {
                'f' => opts.force = true,
                'p' => opts.parsable = true,
                'u' => opts.update_only = true,
                '?' | 'h' => opts.help = true,
                other => return Err(format!("unknown option -{other}")),
            }
        }
    }
    if let Some(arg) = args.next() {
        return Err(format!("unexpected argument {:?}", arg.to_string_lossy()));
    }
    Ok(opts)
}

/// Does what `opts` asks and returns what to print.
fn run(opts: &Opts) -> Result<String, sysinfo::SysinfoError> {
    let paths = Paths::from_env();
    let host = Host::local();
    if opts.update_only {
        sysinfo::refresh(&paths, &host)?;
        return Ok(String::new());
    }
    let info = if opts.force {
        sysinfo::refresh(&paths, &host)?
    } else {
        sysinfo::cached_or_refresh(&paths, &host)?
    };
    Ok(if opts.parsable {
        sysinfo::to_parsable(&info)
    } else {
        sysinfo::to_json(&info)
    })
}

/// The error and its causes on one line.
fn one_line(err: &dyn std::error::Error) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        line.push_str(": ");
        line.push_str(&cause.to_string());
        source = cause.source();
    }
    line
}

/// Writes to stdout; a reader that went away is not an error.
fn print(text: &str) -> ExitCode {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sysinfo: failed to write output: {e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(io::stderr)
        .with_max_level(tracing::Level::WARN)
        .without_time()
        .init();
    let opts = match parse_args(std::env::args_os().skip(1)) {
        Ok(opts) => opts,
        Err(msg) => {
            eprint!("sysinfo: {msg}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if opts.help {
        return print(USAGE);
    }
    match run(&opts) {
        Ok(text) => print(&text),
        Err(err) => {
            eprintln!("sysinfo: {}", one_line(&err));
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Opts, String> {
        parse_args(args.iter().map(OsString::from))
    }

    #[test]
    fn flags_alone_and_bundled() {
        assert_eq!(parse(&[]), Ok(Opts::default()));
        let fp = Opts {
            force: true,
            parsable: true,
            ..Opts::default()
        };
        assert_eq!(parse(&["-f", "-p"]), Ok(fp));
        assert_eq!(
            parse(&["-fp"]),
            parse(&["-p", "-f"]),
            "bundled flags read as separate ones"
        );
        assert!(parse(&["-u"]).unwrap().update_only);
        for help in ["-?", "-h", "--help", "-p?"] {
            assert!(parse(&[help]).unwrap().help, "{help}");
        }
        assert!(parse(&["-p", "--"]).unwrap().parsable);
    }

    #[test]
    fn usage_errors() {
        assert_eq!(parse(&["-x"]), Err("unknown option -x".to_owned()));
        assert_eq!(parse(&["-fx"]), Err("unknown option -x".to_owned()));
        assert_eq!(
            parse(&["all"]),
            Err("unexpected argument \"all\"".to_owned())
        );
        assert_eq!(parse(&["-"]), Err("unexpected argument \"-\"".to_owned()));
        assert_eq!(
            parse(&["--force"]),
            Err("unexpected argument \"--force\"".to_owned())
        );
        assert_eq!(
            parse(&["--", "-f"]),
            Err("unexpected argument \"-f\"".to_owned())
        );
    }
}
