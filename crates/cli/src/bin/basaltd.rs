//! `basaltd`: the node daemon.

fn main() -> std::process::ExitCode {
    basalt_cli::basaltd::main()
}
