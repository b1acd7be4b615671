//! The top-level property table (reference 2.12) and the update-only
//! members (reference 2.5).

use super::build::{BOOL, LIST, STR, U0, UUID, d, int, p, u};
use super::{ListCheck, PropType, Property, Unit};
use crate::brand::BrandSet as B;

const RO: PropType = PropType::ReadOnly;
const FLAT: PropType = PropType::FlatObject;
const OBJS: PropType = PropType::ObjectArray;
const ZPOOL: PropType = PropType::Zpool;

const fn ro(name: &'static str) -> Property {
    p(name, RO, B::NONE, B::NONE)
}

/// Every top-level vmadm property, in the reference's (alphabetical) order.
pub static PROPERTIES: &[Property] = &[
    p("alias", STR, B::ANY, B::ANY),
    ro("app_svc_dependent"),
    d(p("archive_on_delete", BOOL, B::ANY, B::ANY), "false"),
    d(p("autoboot", BOOL, B::ANY, B::ANY), "true"),
    p("bhyve_extra_opts", STR, B::BHYVE, B::BHYVE),
    d(
        p("billing_id", STR, B::ANY, B::ANY),
        "00000000-0000-0000-0000-000000000000",
    ),
    d(p("boot", STR, B::HVM, B::HVM), "order=cd (kvm)"),
    ro("boot_timestamp"),
    d(p("bootrom", STR, B::BHYVE, B::BHYVE), "bios"),
    d(p("brand", STR, B::ANY, B::NONE), "joyent"),
    d(p("com1", STR, B::BHYVE, B::BHYVE), "/dev/zconsole"),
    d(p("com2", STR, B::BHYVE, B::BHYVE), "socket,/tmp/vm.ttyb"),
    u(
        d(p("cpu_cap", U0, B::ANY, B::ANY), "unset"),
        Unit::PercentCpu,
    ),
    d(p("cpu_shares", U0, B::ANY, B::ANY), "100"),
    d(p("cpu_type", STR, B::KVM, B::KVM), "qemu64"),
    p("create_only", BOOL, B::NONE, B::NONE),
    ro("create_timestamp"),
    d(p("customer_metadata", FLAT, B::ANY, B::NONE), "{}"),
    ro("datacenter_name"),
    p("dataset_uuid", UUID, B::OS, B::NONE),
    p("datasets", LIST, B::NONE, B::NONE),
    ro("default_gateway"),
    d(p("delegate_dataset", BOOL, B::OS, B::NONE), "false"),
    p("disk_driver", STR, B::HVM, B::HVM),
    p("disks", OBJS, B::HVM, B::NONE),
    d(p("dns_domain", STR, B::OS, B::OS), "local"),
    d(p("do_not_inventory", BOOL, B::ANY, B::ANY), "false"),
    d(p("docker", BOOL, B::DOCKER, B::DOCKER), "false"),
    ro("exit_status"),
    ro("exit_timestamp"),
    ro("failed"),
    p("filesystems", OBJS, B::OS, B::NONE),
    d(p("firewall_enabled", BOOL, B::ANY, B::ANY), "false"),
    u(p("flexible_disk_size", U0, B::BHYVE, B::BHYVE), Unit::Mib),
    ro("free_space"),
    p("fs_allowed", LIST, B::OS, B::OS),
    ro("headnode_id"),
    p("hostname", STR, B::ANY, B::ANY),
    p("image_uuid", UUID, B::ANY, B::NONE),
    d(p("indestructible_delegated", BOOL, B::ANY, B::ANY), "false"),
    d(p("indestructible_zoneroot", BOOL, B::ANY, B::ANY), "false"),
    p("init_name", STR, B::OS, B::OS),
    ro("init_restarts"),
    d(p("internal_metadata", FLAT, B::ANY, B::NONE), "{}"),
    d(
        p(
            "internal_metadata_namespaces",
            PropType::List(ListCheck::Namespace),
            B::ANY,
            B::ANY,
        ),
        "[]",
    ),
    p("kernel_version", STR, B::LX, B::LX),
    ro("last_modified"),
    d(p("limit_priv", LIST, B::ANY, B::ANY), "default"),
    d(p("maintain_resolvers", BOOL, B::OS, B::OS), "false"),
    u(
        d(
            p("max_locked_memory", U0, B::ANY, B::ANY),
            "max_physical_memory",
        ),
        Unit::Mib,
    ),
    d(p("max_lwps", U0, B::ANY, B::ANY), "2000"),
    d(p("max_msg_ids", U0, B::ANY, B::ANY), "4096"),
    u(
        d(
            p("max_physical_memory", U0, B::ANY, B::ANY),
            "256; kvm ram+1024; bhyve ram+1280",
        ),
        Unit::Mib,
    ),
    d(p("max_sem_ids", U0, B::ANY, B::ANY), "4096"),
    d(p("max_shm_ids", U0, B::ANY, B::ANY), "4096"),
    u(
        d(
            p("max_shm_memory", U0, B::ANY, B::ANY),
            "max_physical_memory",
        ),
        Unit::Mib,
    ),
    u(
        d(
            p("max_swap", int(256, i64::MAX), B::ANY, B::ANY),
            "max(max_physical_memory, 256)",
        ),
        Unit::Mib,
    ),
    u(
        d(p("mdata_exec_timeout", U0, B::OS, B::NONE), "300"),
        Unit::Seconds,
    ),
    ro("missing"),
    p("nic_driver", STR, B::HVM, B::HVM),
    d(p("nics", OBJS, B::ANY, B::NONE), "[]"),
    d(p("nowait", BOOL, B::OS, B::NONE), "false"),
    d(
        p("owner_uuid", STR, B::ANY, B::ANY),
        "00000000-0000-0000-0000-000000000000",
    ),
    p("package_name", STR, B::ANY_BUT_BHYVE, B::ANY_BUT_BHYVE),
    p("package_version", STR, B::ANY_BUT_BHYVE, B::ANY_BUT_BHYVE),
    p("pci_devices", OBJS, B::BHYVE, B::BHYVE),
    ro("pid"),
    ro("platform_buildstamp"),
    ro("provisioning"),
    p("qemu_extra_opts", STR, B::KVM, B::KVM),
    p("qemu_opts", STR, B::KVM, B::KVM),
    u(d(p("quota", U0, B::ANY, B::ANY), "10; bhyve 1"), Unit::Gib),
    u(d(p("ram", U0, B::ANY, B::ANY), "256"), Unit::Mib),
    d(
        p("resolvers", PropType::List(ListCheck::Ip), B::ANY, B::ANY),
        "[]",
    ),
    d(p("restart_init", BOOL, B::OS, B::OS), "true"),
    d(p("routes", FLAT, B::ANY, B::NONE), "{}"),
    ro("server_uuid"),
    ro("snapshots"),
    p("spice_opts", STR, B::KVM, B::KVM),
    p("spice_password", STR, B::KVM, B::KVM),
    p("spice_port", int(-1, i64::MAX), B::KVM, B::KVM),
    ro("state"),
    d(p("tags", FLAT, B::ANY, B::NONE), "{}"),
    u(
        d(p("tmpfs", U0, B::OS, B::OS), "max_physical_memory"),
        Unit::Mib,
    ),
    p("transition", FLAT, B::NONE, B::NONE),
    ro("transition_expire"),
    ro("transition_to"),
    ro("type"),
    d(p("uuid", UUID, B::ANY, B::NONE), "random v4"),
    d(p("v", U0, B::NONE, B::NONE), "1"),
    d(p("vcpus", int(1, i64::MAX), B::HVM, B::HVM), "1"),
    d(p("vga", STR, B::KVM, B::KVM), "std"),
    d(p("virtio_txburst", U0, B::KVM, B::KVM), "128"),
    u(
        d(p("virtio_txtimer", U0, B::KVM, B::KVM), "200000"),
        Unit::Nanoseconds,
    ),
    ro("vm_autoboot"),
    p("vnc_password", STR, B::HVM, B::HVM),
    d(
        p("vnc_port", int(-1, i64::MAX), B::HVM, B::HVM),
        "0 (random)",
    ),
    d(p("zfs_data_compression", STR, B::OS, B::OS), "off"),
    u(
        d(p("zfs_data_recsize", U0, B::OS, B::OS), "131072"),
        Unit::Bytes,
    ),
    ro("zfs_filesystem"),
    p("zfs_filesystem_limit", U0, B::ANY, B::ANY),
    d(p("zfs_io_priority", U0, B::ANY, B::ANY), "100"),
    d(p("zfs_root_compression", STR, B::ANY, B::ANY), "off"),
    u(
        d(p("zfs_root_recsize", U0, B::ANY, B::ANY), "131072"),
        Unit::Bytes,
    ),
    p("zfs_snapshot_limit", U0, B::ANY, B::ANY),
    p("zfs_storage_pool_name", ZPOOL, B::ANY_BUT_BHYVE, B::NONE),
    u(p("zlog_max_size", U0, B::OS, B::OS), Unit::Bytes),
    ro("zlog_mode"),
    ro("zlog_name"),
    ro("zone_state"),
    p("zone_dataset_uuid", UUID, B::HVM, B::NONE),
    ro("zonedid"),
    ro("zoneid"),
    d(p("zonename", STR, B::ANY, B::NONE), "uuid"),
    ro("zonepath"),
    d(p("zpool", ZPOOL, B::ANY, B::NONE), "zones"),
    ro("hvm"),
];

/// The members only an update payload carries (reference 2.5). `create`
/// lists the brands that may also give the `add_` forms on create, where
/// they stand for `nics`, `disks`, ...
pub static UPDATE_MEMBERS: &[Property] = &[
    p("set_customer_metadata", FLAT, B::NONE, B::ANY),
    p("remove_customer_metadata", LIST, B::NONE, B::ANY),
    p("set_internal_metadata", FLAT, B::NONE, B::ANY),
    p("remove_internal_metadata", LIST, B::NONE, B::ANY),
    p("set_tags", FLAT, B::NONE, B::ANY),
    p("remove_tags", LIST, B::NONE, B::ANY),
    p("set_routes", FLAT, B::NONE, B::ANY),
    p("remove_routes", LIST, B::NONE, B::ANY),
    p("add_nics", OBJS, B::ANY, B::ANY),
    p("update_nics", OBJS, B::NONE, B::ANY),
    p("remove_nics", LIST, B::NONE, B::ANY),
    p("add_disks", OBJS, B::HVM, B::HVM),
    p("update_disks", OBJS, B::NONE, B::HVM),
    p("remove_disks", LIST, B::NONE, B::HVM),
    p("add_filesystems", OBJS, B::OS, B::OS),
    p("update_filesystems", OBJS, B::NONE, B::OS),
    p("remove_filesystems", LIST, B::NONE, B::OS),
    p("add_pci_devices", OBJS, B::BHYVE, B::BHYVE),
    p("update_pci_devices", OBJS, B::NONE, B::BHYVE),
    p("remove_pci_devices", LIST, B::NONE, B::BHYVE),
];
