//! What the model needs to know of the host, handed in as data.

use serde_json::{Map, Value};

/// Facts about the node that validation and normalisation consult.
#[derive(Debug, Clone, Default)]
pub struct HostFacts {
    /// Names of the pools the node has (`zones`).
    pub zpools: Vec<String>,
    /// Nic tags (and etherstubs) the node defines.
    pub nic_tags: Vec<String>,
    /// Whether the node can run bhyve-brand instances (sysinfo's `Bhyve
    /// Capable`).
    pub bhyve_capable: bool,
    /// Host paths that `filesystems[].source` entries name and that exist
    /// (a source must exist when the instance is created).
    pub existing_sources: Vec<String>,
    /// The node's UUID (`server_uuid` of every instance).
    pub server_uuid: String,
    /// The platform build stamp (`platform_buildstamp`).
    pub platform_buildstamp: String,
    /// `datacenter_name`, when the node has one.
    pub datacenter_name: Option<String>,
    /// The instances the node already has, as stored, for the host-wide
    /// uniqueness checks (uuid, MAC, IP per nic tag and VLAN, VRRP id).
    pub instances: Vec<Map<String, Value>>,
}

impl HostFacts {
    /// Facts for a node with the default pool and no instances, as tests
    /// and `vmadm validate` use them.
    pub fn with_default_pool() -> Self {
        HostFacts {
            zpools: vec!["zones".to_owned()],
            nic_tags: vec!["admin".to_owned()],
            bhyve_capable: true,
            ..HostFacts::default()
        }
    }
}

/// What the caller supplies that the pure model cannot produce itself.
pub trait Entropy {
    /// Fills `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

/// Entropy from a fixed seed, for tests and reproducible examples
/// (xorshift64*; not for anything that needs unpredictability).
#[derive(Debug, Clone)]
pub struct SeededEntropy(pub u64);

impl Entropy for SeededEntropy {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            let mut x = self.0 | 1;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.0 = x;
            *b = (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8;
        }
    }
}
