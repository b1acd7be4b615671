//! Pure decisions about what sysinfo finds under /sys: which block devices
//! are disks, which network devices are physical links and in what state,
//! how a CPU list or an SMBIOS string reads.

use super::facts::LinkStatus;

/// Kernel name prefixes of block devices that are not disks: loop and RAM
/// disks, compressed swap, device-mapper and md volumes, network block
/// devices, optical drives, floppies.
const NOT_DISKS: &[&str] = &["loop", "ram", "zram", "dm-", "md", "nbd", "sr", "fd"];

/// Whether the block device `name` (an entry of /sys/block) is a disk.
pub fn is_disk(name: &str) -> bool {
    !NOT_DISKS.iter().any(|p| name.starts_with(p))
}

/// A disk's capacity in bytes from /sys/block/<dev>/size, which counts
/// 512-byte sectors whatever the device's own sector size.
pub fn disk_bytes(size: &str) -> Option<u64> {
    size.trim().parse::<u64>().ok()?.checked_mul(512)
}

/// What /sys/class/net/<name> holds that tells a physical link apart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetDevice<'a> {
    /// The interface name.
    pub name: &'a str,
    /// It has a `device` entry: it sits on a bus (PCI, USB, virtio).
    pub has_device: bool,
    /// It has a `bridge` directory: it is a bridge.
    pub is_bridge: bool,
    /// It has a `tun_flags` file: it is a tun or tap device.
    pub is_tun: bool,
}

/// Whether a network device is a physical link: one on a bus, and not the
/// loopback, a veth end, a bridge or a tap (which can carry a `device`
/// entry of their own).
pub fn is_physical_link(dev: &NetDevice<'_>) -> bool {
    dev.has_device
        && !dev.is_bridge
        && !dev.is_tun
        && dev.name != "lo"
        && !dev.name.starts_with("veth")
}

/// A link's state from its `operstate`, consulting `carrier` when the
/// driver reports no operational state (`unknown`).
pub fn link_status(operstate: &str, carrier: Option<&str>) -> LinkStatus {
    match operstate.trim() {
        "up" => LinkStatus::Up,
        "down" | "lowerlayerdown" | "notpresent" => LinkStatus::Down,
        _ => match carrier.map(str::trim) {
            Some("1") => LinkStatus::Up,
            Some("0") => LinkStatus::Down,
            _ => LinkStatus::Unknown,
        },
    }
}

/// How many CPUs a kernel CPU list names (`0-3,8,10-11` is 7), as in
/// /sys/devices/system/cpu/{online,present}.
pub fn cpu_list_count(text: &str) -> Option<u32> {
    let text = text.trim();
    if text.is_empty() {
        return Some(0);
    }
    let mut n = 0u32;
    for range in text.split(',') {
        let (lo, hi) = match range.split_once('-') {
            Some((lo, hi)) => (lo.parse::<u32>().ok()?, hi.parse::<u32>().ok()?),
            None => {
                let one = range.parse::<u32>().ok()?;
                (one, one)
            }
        };
        n = n.checked_add(hi.checked_sub(lo)?.checked_add(1)?)?;
    }
    Some(n)
}

/// An SMBIOS string from /sys/class/dmi/id: the text without the trailing
/// newline or padding.
pub fn dmi_string(text: &str) -> String {
    text.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disks_are_what_is_left_of_sys_block() {
        // /sys/block of this build machine, plus common real disks.
        let listing = [
            "loop0", "loop7", "vda", "zram0", "sda", "nvme0n1", "dm-0", "md127", "nbd3", "sr0",
            "ram0", "fd0", "xvda", "mmcblk0",
        ];
        let disks: Vec<_> = listing.into_iter().filter(|n| is_disk(n)).collect();
        assert_eq!(disks, ["vda", "sda", "nvme0n1", "xvda", "mmcblk0"]);
    }

    #[test]
    fn disk_size_is_in_512_byte_sectors() {
        assert_eq!(disk_bytes("536870912\n"), Some(274_877_906_944));
        assert_eq!(disk_bytes("0\n"), Some(0));
        assert_eq!(disk_bytes("n/a"), None);
        assert_eq!(disk_bytes("18446744073709551615"), None);
    }

    #[test]
    fn physical_links_sit_on_a_bus() {
        let dev = |name, has_device| NetDevice {
            name,
            has_device,
            ..NetDevice::default()
        };
        // /sys/class/net of this build machine: eth0 (virtio), ifb0, lo.
        assert!(is_physical_link(&dev("eth0", true)));
        assert!(!is_physical_link(&dev("ifb0", false)));
        assert!(!is_physical_link(&dev("lo", false)));
        assert!(!is_physical_link(&dev("lo", true)));
        assert!(!is_physical_link(&dev("veth1a2b", true)));
        let bridge = NetDevice {
            is_bridge: true,
            ..dev("br0", true)
        };
        assert!(!is_physical_link(&bridge));
        let tap = NetDevice {
            is_tun: true,
            ..dev("tap0", true)
        };
        assert!(!is_physical_link(&tap));
    }

    #[test]
    fn link_status_from_operstate_then_carrier() {
        assert_eq!(link_status("up\n", Some("1\n")), LinkStatus::Up);
        assert_eq!(link_status("down\n", None), LinkStatus::Down);
        assert_eq!(link_status("lowerlayerdown\n", None), LinkStatus::Down);
        assert_eq!(link_status("unknown\n", Some("1\n")), LinkStatus::Up);
        assert_eq!(link_status("unknown\n", Some("0\n")), LinkStatus::Down);
        assert_eq!(link_status("unknown\n", None), LinkStatus::Unknown);
        assert_eq!(link_status("dormant\n", None), LinkStatus::Unknown);
    }

    #[test]
    fn cpu_lists() {
        // /sys/devices/system/cpu/present of this build machine.
        assert_eq!(cpu_list_count("0-1\n"), Some(2));
        assert_eq!(cpu_list_count("0"), Some(1));
        assert_eq!(cpu_list_count("0-3,8,10-11"), Some(7));
        assert_eq!(cpu_list_count("\n"), Some(0));
        assert_eq!(cpu_list_count("3-1"), None);
        assert_eq!(cpu_list_count("a-b"), None);
    }

    #[test]
    fn dmi_strings_are_trimmed() {
        assert_eq!(dmi_string("QEMU\n"), "QEMU");
        assert_eq!(
            dmi_string("Standard PC (i440FX + PIIX, 1996)\n"),
            "Standard PC (i440FX + PIIX, 1996)"
        );
        assert_eq!(dmi_string(""), "");
    }
}
