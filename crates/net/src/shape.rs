//! Bandwidth caps (`maxbw`) with tc, on the host side of a NIC where the
//! zone cannot lift them.
//!
//! What the zone receives leaves the host port: a token bucket is that
//! port's root queue. What the zone sends arrives on the host port: its
//! ingress is redirected to an intermediate functional block device whose
//! root queue is the same token bucket, so both directions are shaped
//! (queued, not merely dropped), which TCP follows closely.
//!
//! The commands are built here as argument vectors and run one by one;
//! the shaping device itself is made through netlink by the caller.

use std::process::Command;

/// A tc invocation that failed.
#[derive(Debug, thiserror::Error)]
#[error("tc {args} failed: {reason}")]
pub struct ShapeError {
    /// The arguments, joined.
    pub args: String,
    /// What went wrong: tc's own message, or why it could not run.
    pub reason: String,
}

/// The size of the token bucket: 10 ms at the rate, at least 16 KiB (ten
/// full-size frames). A segmentation-offloaded send larger than the bucket
/// is split by the queue, not dropped; a larger bucket only lets more
/// through at once past the cap.
fn burst_bytes(mbit: u32) -> u64 {
    let per_10ms = u64::from(mbit) * 1_000_000 / 8 / 100;
    per_10ms.max(16 * 1024)
}

fn words(w: &[&str]) -> Vec<String> {
    w.iter().map(|s| (*s).to_owned()).collect()
}

fn tbf(dev: &str, mbit: u32) -> Vec<String> {
    let (rate, burst) = (format!("{mbit}mbit"), burst_bytes(mbit).to_string());
    words(&[
        "qdisc", "replace", "dev", dev, "root", "tbf", "rate", &rate, "burst", &burst, "latency",
        "50ms",
    ])
}

/// The commands that cap `port` (and its shaping device `shaper`, which
/// must exist) at `mbit` Mbit/s in both directions. Each replaces what
/// was there, so applying a new cap over an old one is the same list.
pub fn cap(port: &str, shaper: &str, mbit: u32) -> Vec<Vec<String>> {
    vec![
        tbf(port, mbit),
        tbf(shaper, mbit),
        words(&[
            "qdisc", "replace", "dev", port, "handle", "ffff:", "ingress",
        ]),
        words(&[
            "filter", "replace", "dev", port, "parent", "ffff:", "protocol", "all", "prio", "1",
            "u32", "match", "u32", "0", "0", "action", "mirred", "egress", "redirect", "dev",
            shaper,
        ]),
    ]
}

/// The commands that lift `port`'s cap (the shaping device is then
/// deleted by the caller). Removing what is not there fails in tc; the
/// caller ignores those failures.
pub fn uncap(port: &str) -> Vec<Vec<String>> {
    vec![
        words(&["qdisc", "del", "dev", port, "root"]),
        words(&["qdisc", "del", "dev", port, "ingress"]),
    ]
}

/// Runs one tc command.
pub fn run(args: &[String]) -> Result<(), ShapeError> {
    let failed = |reason: String| ShapeError {
        args: args.join(" "),
        reason,
    };
    let out = Command::new("tc")
        .args(args)
        .output()
        .map_err(|e| failed(format!("cannot run tc: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(failed(
            String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cap_shapes_both_directions_of_the_port() {
        let cmds = cap("z7_net0", "z7_net0i", 10);
        let lines: Vec<String> = cmds.iter().map(|c| c.join(" ")).collect();
        assert_eq!(
            lines,
            [
                "qdisc replace dev z7_net0 root tbf rate 10mbit burst 16384 latency 50ms",
                "qdisc replace dev z7_net0i root tbf rate 10mbit burst 16384 latency 50ms",
                "qdisc replace dev z7_net0 handle ffff: ingress",
                "filter replace dev z7_net0 parent ffff: protocol all prio 1 u32 match u32 0 0 \
                 action mirred egress redirect dev z7_net0i",
            ]
        );
    }

    #[test]
    fn fast_caps_get_ten_milliseconds_of_burst() {
        assert_eq!(burst_bytes(10_000), 12_500_000);
        assert_eq!(burst_bytes(1), 16384);
    }

    #[test]
    fn lifting_a_cap_removes_both_queues() {
        let lines: Vec<String> = uncap("z7_net0").iter().map(|c| c.join(" ")).collect();
        assert_eq!(
            lines,
            [
                "qdisc del dev z7_net0 root",
                "qdisc del dev z7_net0 ingress"
            ]
        );
    }
}
