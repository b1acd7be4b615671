//! `nictagadm`: the node's nic tags.

fn main() -> std::process::ExitCode {
    basalt_cli::nictagadm::main()
}
