//! `zonenet plumb <uuid> <init pid>` and `zonenet unplumb <index>`: a
//! zone supervisor's network work (not run by hand), in a process of its
//! own so that the supervisor's binary carries no network code.

use std::process::ExitCode;

use basalt_node::paths::Paths;
use basalt_node::zones::supervisor;

fn main() -> ExitCode {
    // Its supervisor keeps what it says on standard error.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .try_init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let status = supervisor::net_helper_main(Paths::from_env(), &args);
    ExitCode::from(u8::try_from(status).unwrap_or(1))
}
