//! `zoneadmd <uuid>`: a zone's supervisor (started by vmadm and basaltd,
//! not by hand). Also runs the zone's boot stages, and the resizing of a
//! running zone's /tmp, when started with their arguments.

use std::os::fd::AsFd;
use std::process::ExitCode;

use basalt_node::paths::Paths;
use basalt_zone::boot;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let status = match args.get(1).map(String::as_str) {
        Some(boot::STAGE1_ARG) => boot::stage1_main(),
        Some(boot::STAGE2_ARG) => boot::stage2_main(),
        Some(boot::RESIZE_TMP_ARG) if args.len() == 4 => resize_tmp(&args[2], &args[3]),
        Some(uuid) if args.len() == 2 => supervise(uuid),
        _ => {
            eprintln!("usage: zoneadmd <uuid>");
            2
        }
    };
    ExitCode::from(u8::try_from(status).unwrap_or(1))
}

fn supervise(uuid: &str) -> i32 {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .try_init();
    let Ok(uuid) = uuid.parse() else {
        eprintln!("zoneadmd: not a uuid: {uuid}");
        return 2;
    };
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("zoneadmd: cannot find my binary: {e}");
            return 1;
        }
    };
    // The readiness line goes to whoever started us; after it, standard
    // output is /dev/null so that their pipe is not held open.
    let ready = match std::io::stdout().as_fd().try_clone_to_owned() {
        Ok(fd) => std::fs::File::from(fd),
        Err(e) => {
            eprintln!("zoneadmd: no standard output: {e}");
            return 1;
        }
    };
    if let Ok(null) = std::fs::File::options().write(true).open("/dev/null") {
        let _ = nix::unistd::dup2_stdout(null);
    }
    // Whatever the caller left open (a lock, a directory) stays out of the
    // zone.
    if let Err(e) = basalt_zone::sys::cloexec_from(3) {
        eprintln!("zoneadmd: cannot mark descriptors close-on-exec: {e}");
        return 1;
    }
    basalt_node::zones::supervisor::run(&Paths::from_env(), &uuid, &exe, ready)
}

/// Joins a running zone and resizes its /tmp (a live `tmpfs` update).
fn resize_tmp(uuid: &str, mib: &str) -> i32 {
    let Ok(mib) = mib.parse::<u64>() else {
        eprintln!("zoneadmd: not a size: {mib}");
        return 2;
    };
    let joined = basalt_node::instances::Node::open(Paths::from_env())
        .and_then(|node| node.login_target(uuid))
        .and_then(|target| target.join());
    if let Err(e) = joined {
        eprintln!("zoneadmd: {e}");
        return 1;
    }
    match basalt_zone::mounts::resize_tmp(mib) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("zoneadmd: cannot resize /tmp: {e}");
            1
        }
    }
}
