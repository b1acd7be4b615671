//! Listable fields: the column table of `vmadm list`, derived columns, and
//! the paths that read a field out of a VM object.

use serde_json::{Map, Value};

/// The columns `vmadm list` shows without `-o`.
pub const DEFAULT_COLUMNS: &str = "uuid,type,ram,state,alias";

/// The sort keys `vmadm list` uses without `-s`.
pub const DEFAULT_SORT: &str = "ram,uuid";

/// Width of every derived column (`nics.0.ip`, `tags.role`).
const DERIVED_WIDTH: usize = 20;

/// Array-of-object properties that give `<array>.<N>.<key>` columns.
pub(crate) const ARRAY_KEYS: [&str; 3] = ["disks", "nics", "pci_devices"];

/// Hash properties that give `<object>.<key>` columns.
pub(crate) const HASH_KEYS: [&str; 4] =
    ["tags", "customer_metadata", "internal_metadata", "routes"];

/// The listable top-level fields: name, column header, minimum width
/// (reference 2.3).
const LIST_FIELDS: [(&str, &str, usize); 44] = [
    ("alias", "ALIAS", 10),
    ("autoboot", "AUTOBOOT", 8),
    ("billing_id", "BILLING_ID", 36),
    ("boot_timestamp", "BOOT_TIMESTAMP", 24),
    ("brand", "BRAND", 14),
    ("cpu_cap", "CPU_CAP", 7),
    ("cpu_shares", "CPU_SHARE", 9),
    ("cpu_type", "CPU_TYPE", 8),
    ("create_timestamp", "CREATE_TIMESTAMP", 24),
    ("dns_domain", "DOMAIN", 32),
    ("do_not_inventory", "DNI", 5),
    ("docker", "DOCKER", 6),
    ("exit_status", "EXIT", 4),
    ("exit_timestamp", "EXIT_TIMESTAMP", 24),
    ("firewall_enabled", "FIREWALL_ENABLED", 16),
    ("flexible_disk_size", "FLEX_DISK_SIZE", 14),
    ("free_space", "FREE_SPACE", 14),
    ("hostname", "HOSTNAME", 32),
    ("hvm", "HVM", 5),
    ("image_uuid", "IMAGE_UUID", 36),
    ("indestructible_delegated", "INDESTR_DATA", 12),
    ("indestructible_zoneroot", "INDESTR_ROOT", 12),
    ("max_locked_memory", "MAX_LOCKED", 10),
    ("max_lwps", "MAX_LWP", 7),
    ("max_physical_memory", "MAX_PHYS", 8),
    ("max_swap", "MAX_SWAP", 8),
    ("owner_uuid", "OWNER_UUID", 36),
    ("package_name", "PACKAGE_NAME", 32),
    ("package_version", "PACKAGE_VER", 11),
    ("pid", "PID", 6),
    ("qemu_extra_opts", "QEMU_EXTRA_OPTS", 15),
    ("quota", "QUOTA", 5),
    ("ram", "RAM", 7),
    ("state", "STATE", 16),
    ("tmpfs", "TMPFS", 5),
    ("type", "TYPE", 4),
    ("uuid", "UUID", 36),
    ("vcpus", "VCPUS", 5),
    ("zfs_io_priority", "IO_PRIORITY", 11),
    ("zone_state", "ZONE_STATE", 10),
    ("zonename", "ZONENAME", 12),
    ("zonepath", "ZONEPATH", 40),
    ("zoneid", "ZONEID", 6),
    ("zpool", "ZPOOL", 12),
];

/// Whether `name` is one of the listable top-level fields.
pub(crate) fn is_listable(name: &str) -> bool {
    LIST_FIELDS.iter().any(|(field, _, _)| *field == name)
}

/// Which element(s) of an array property a path reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Index {
    /// `*`: every element (filters only).
    Any,
    /// One element by position.
    At(usize),
}

/// Where a field lives in a VM object (the reference's flattening rules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Path {
    /// A top-level key: `alias`.
    Top(String),
    /// A key of an element of an array of objects: `nics.0.ip`.
    Element {
        array: String,
        index: Index,
        key: String,
    },
    /// A key of a hash property: `tags.role`.
    Member { object: String, key: String },
}

impl Path {
    /// The value at this path, if any. `Index::Any` reads nothing here;
    /// use [`Path::each_element`] for it.
    pub(crate) fn get<'a>(&self, vm: &'a Map<String, Value>) -> Option<&'a Value> {
        match self {
            Path::Top(name) => vm.get(name),
            Path::Element {
                array,
                index: Index::At(i),
                key,
            } => vm.get(array)?.as_array()?.get(*i)?.as_object()?.get(key),
            Path::Element {
                index: Index::Any, ..
            } => None,
            Path::Member { object, key } => vm.get(object)?.as_object()?.get(key),
        }
    }

    /// For an `Element` path: the key's value in each element of the array
    /// (`None` where an element lacks it); `None` when the VM has no such
    /// array. Other paths give `None`.
    pub(crate) fn each_element<'a>(
        &self,
        vm: &'a Map<String, Value>,
    ) -> Option<Vec<Option<&'a Value>>> {
        let Path::Element { array, key, .. } = self else {
            return None;
        };
        let items = vm.get(array)?.as_array()?;
        Some(
            items
                .iter()
                .map(|item| item.as_object().and_then(|o| o.get(key)))
                .collect(),
        )
    }
}

/// A position written as decimal digits (`0`, `12`); anything else is not
/// an index.
pub(crate) fn parse_index(text: &str) -> Option<usize> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A column or sort field of `vmadm list`: what to read from a VM and how
/// its column is titled and padded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    name: String,
    header: String,
    width: usize,
    path: Path,
}

impl Field {
    /// Resolves a field name: one of the listable fields of reference 2.3,
    /// `<disks|nics|pci_devices>.<N>.<key>` with `N` in decimal digits, or
    /// `<tags|customer_metadata|internal_metadata|routes>.<key>` where the
    /// key is everything after the first `.` (so `routes.10.0.0.0/8` and
    /// `tags.a.b` name the keys `10.0.0.0/8` and `a.b`). Derived columns
    /// are titled with the name upper-cased and are 20 wide. `None` when
    /// the name is not listable.
    pub fn parse(name: &str) -> Option<Field> {
        if let Some((_, header, width)) = LIST_FIELDS.iter().find(|(f, _, _)| *f == name) {
            return Some(Field {
                name: name.to_owned(),
                header: (*header).to_owned(),
                width: *width,
                path: Path::Top(name.to_owned()),
            });
        }
        let path = derived_path(name)?;
        Some(Field {
            name: name.to_owned(),
            header: name.to_uppercase(),
            width: DERIVED_WIDTH,
            path,
        })
    }

    /// The field as written (`nics.0.ip`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The column header (`UUID`, `NICS.0.IP`).
    pub fn header(&self) -> &str {
        &self.header
    }

    /// The column's minimum width in UTF-16 code units.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The field's value in `vm`, if it has one.
    pub fn value<'a>(&self, vm: &'a Map<String, Value>) -> Option<&'a Value> {
        self.path.get(vm)
    }
}

/// The path of a derived column name, or `None`.
fn derived_path(name: &str) -> Option<Path> {
    let (head, rest) = name.split_once('.')?;
    if ARRAY_KEYS.contains(&head) {
        let (index, key) = rest.split_once('.')?;
        if key.contains('.') {
            return None;
        }
        return Some(Path::Element {
            array: head.to_owned(),
            index: Index::At(parse_index(index)?),
            key: key.to_owned(),
        });
    }
    if HASH_KEYS.contains(&head) {
        return Some(Path::Member {
            object: head.to_owned(),
            key: rest.to_owned(),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn vm(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn table_has_every_field_of_the_reference_once() {
        let mut names: Vec<_> = LIST_FIELDS.iter().map(|(n, _, _)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), LIST_FIELDS.len());
        for (name, header, width) in [
            ("alias", "ALIAS", 10),
            ("cpu_shares", "CPU_SHARE", 9),
            ("dns_domain", "DOMAIN", 32),
            ("do_not_inventory", "DNI", 5),
            ("exit_status", "EXIT", 4),
            ("indestructible_delegated", "INDESTR_DATA", 12),
            ("package_version", "PACKAGE_VER", 11),
            ("ram", "RAM", 7),
            ("type", "TYPE", 4),
            ("uuid", "UUID", 36),
            ("zfs_io_priority", "IO_PRIORITY", 11),
            ("zonepath", "ZONEPATH", 40),
        ] {
            let field = Field::parse(name).expect(name);
            assert_eq!((field.header(), field.width()), (header, width), "{name}");
        }
    }

    #[test]
    fn derived_columns_are_upper_cased_and_20_wide() {
        for name in [
            "nics.0.ip",
            "disks.1.size",
            "pci_devices.0.path",
            "tags.role",
            "customer_metadata.user-script",
            "internal_metadata.x",
            "routes.10.0.0.0/8",
            "tags.",
        ] {
            let field = Field::parse(name).expect(name);
            assert_eq!(field.header(), name.to_uppercase());
            assert_eq!(field.width(), 20);
            assert_eq!(field.name(), name);
        }
    }

    #[test]
    fn unknown_names_are_not_fields() {
        for name in [
            "",
            "bogus",
            "UUID",
            "nics",
            "nics.0",
            "nics.x.ip",
            "nics.*.ip",
            "nics.0.ip.extra",
            "filesystems.0.source",
            "resolvers.0",
            "tags",
            "zfs_filesystem",
        ] {
            assert_eq!(Field::parse(name), None, "{name}");
        }
    }

    #[test]
    fn fields_read_through_the_vm_object() {
        let vm = vm(json!({
            "alias": "web",
            "nics": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}, "junk"],
            "tags": {"a.b": 1, "role": "db"},
            "routes": {"10.0.0.0/8": "10.0.0.1"}
        }));
        let get = |name: &str| Field::parse(name).and_then(|f| f.value(&vm).cloned());
        assert_eq!(get("alias"), Some(json!("web")));
        assert_eq!(get("nics.1.ip"), Some(json!("10.0.0.2")));
        assert_eq!(get("nics.2.ip"), None);
        assert_eq!(get("nics.3.ip"), None);
        assert_eq!(get("disks.0.size"), None);
        assert_eq!(get("tags.role"), Some(json!("db")));
        assert_eq!(get("tags.a.b"), Some(json!(1)));
        assert_eq!(get("routes.10.0.0.0/8"), Some(json!("10.0.0.1")));
        assert_eq!(get("customer_metadata.x"), None);
    }

    #[test]
    fn indexes_are_decimal_digits() {
        assert_eq!(parse_index("0"), Some(0));
        assert_eq!(parse_index("012"), Some(12));
        assert_eq!(parse_index(""), None);
        assert_eq!(parse_index("+1"), None);
        assert_eq!(parse_index("1x"), None);
        assert_eq!(parse_index("99999999999999999999999"), None);
    }
}
