//! `zlogin`: run a command or a shell inside a running zone.

fn main() -> std::process::ExitCode {
    basalt_cli::zlogin::main()
}
