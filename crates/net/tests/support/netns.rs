//! Network namespaces held by a thread or a descriptor, made without a
//! name or a mount: they go away with the thread or the descriptor. Shared
//! by this crate's tests and the command-line crate's network benchmark.

use std::os::fd::OwnedFd;

/// Runs `f` on a thread in a new network namespace (the programs it
/// starts inherit it).
pub fn in_new_netns<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
                .expect("unsharing the network namespace needs root");
            f()
        })
        .join()
        .unwrap()
    })
}

/// A new network namespace, held open by its descriptor.
pub fn new_netns() -> OwnedFd {
    in_new_netns(|| {
        std::fs::File::open("/proc/thread-self/ns/net")
            .unwrap()
            .into()
    })
}
