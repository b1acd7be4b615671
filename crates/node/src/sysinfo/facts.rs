//! What sysinfo knows of the host, as plain data: the gatherer fills it in
//! from the running system, the assembler turns it into sysinfo's JSON.

use std::net::Ipv4Addr;

use basalt_model::{Mac, Mib};

/// Everything sysinfo reports about the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFacts {
    /// The node's UUID (persisted in the node configuration).
    pub uuid: String,
    /// The configured hostname, else the kernel's.
    pub hostname: String,
    /// The platform stamp, reported as `Live Image`.
    pub live_image: String,
    /// When the host booted, in seconds since the epoch.
    pub boot_time: u64,
    /// Whether the node has been configured.
    pub setup: bool,
    /// Processors.
    pub cpu: CpuFacts,
    /// Physical memory.
    pub memory: Mib,
    /// SMBIOS strings, empty where the firmware gives none.
    pub smbios: Smbios,
    /// Whole disks, sorted by name.
    pub disks: Vec<Disk>,
    /// Kernel command-line parameters in command-line order (a repeated key
    /// keeps its first position and its last value).
    pub boot_params: Vec<(String, String)>,
    /// Physical network links, sorted by name.
    pub links: Vec<Link>,
    /// Whether `/dev/kvm` exists.
    pub kvm: bool,
    /// The system pool's name.
    pub zpool: String,
    /// The configured datacenter name.
    pub datacenter_name: Option<String>,
}

/// Processor model, features and counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuFacts {
    /// The model string (`model name` in /proc/cpuinfo), empty when absent.
    pub model: String,
    /// Hardware virtualisation the processor advertises.
    pub virtualization: Virtualization,
    /// Physical packages.
    pub sockets: u32,
    /// Physical cores across all packages.
    pub cores: u32,
    /// Logical CPUs online.
    pub online: u32,
    /// Logical CPUs present, online or not.
    pub total: u32,
}

/// Hardware virtualisation extensions, as sysinfo names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Virtualization {
    /// Neither Intel VT-x nor AMD-V.
    None,
    /// Intel VT-x.
    Vmx,
    /// AMD-V.
    Svm,
}

impl Virtualization {
    /// The value of `CPU Virtualization`.
    pub fn as_str(self) -> &'static str {
        match self {
            Virtualization::None => "none",
            Virtualization::Vmx => "vmx",
            Virtualization::Svm => "svm",
        }
    }
}

/// The SMBIOS system strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Smbios {
    pub manufacturer: String,
    pub product: String,
    pub serial_number: String,
    pub sku_number: String,
    pub hw_version: String,
    pub hw_family: String,
}

/// A whole disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    /// The kernel's name for it (`sda`, `nvme0n1`, `vda`).
    pub name: String,
    /// Capacity in bytes.
    pub size_bytes: u64,
}

impl Disk {
    /// Capacity in decimal gigabytes (10^9 bytes), rounded to the nearest,
    /// as disks are sold and as SmartOS reports them.
    pub fn size_gb(&self) -> u64 {
        (self.size_bytes + 500_000_000) / 1_000_000_000
    }
}

/// A physical network link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The kernel's name for it.
    pub name: String,
    pub mac: Mac,
    /// Its first IPv4 address, if any.
    pub ip4addr: Option<Ipv4Addr>,
    pub status: LinkStatus,
    /// The nic tags the node configuration assigns to this MAC, sorted.
    pub nic_tags: Vec<String>,
}

/// A link's state, as SmartOS's `dladm` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkStatus {
    Up,
    Down,
    Unknown,
}

impl LinkStatus {
    /// The value of `Link Status`.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkStatus::Up => "up",
            LinkStatus::Down => "down",
            LinkStatus::Unknown => "unknown",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_sizes_round_to_decimal_gigabytes() {
        let gb = |size_bytes| {
            Disk {
                name: "sda".into(),
                size_bytes,
            }
            .size_gb()
        };
        assert_eq!(gb(0), 0);
        assert_eq!(gb(499_999_999), 0);
        assert_eq!(gb(500_000_000), 1);
        assert_eq!(gb(500_107_862_016), 500);
        assert_eq!(gb(536_870_912 * 512), 275);
    }
}
