//! `pooladm`: the pool with ZFS's verbs.

fn main() -> std::process::ExitCode {
    basalt_cli::pooladm::main()
}
