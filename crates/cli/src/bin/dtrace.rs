//! `dtrace`: the D language on eBPF.

fn main() -> std::process::ExitCode {
    basalt_cli::dtrace::hold_if_asked();
    basalt_cli::dtrace::main()
}
