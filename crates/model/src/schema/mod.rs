//! The property schema: every vmadm property with its JSON type, unit,
//! default and the brands that accept it on create and on update — the
//! tables of the reference (2.12 for top-level keys, 2.13–2.16 for the nics,
//! disks, filesystems and pci_devices sub-objects).
//!
//! Validation, normalisation, output and the update semantics all read these
//! tables; nothing else in the crate lists properties.

mod sub;
mod top;

/// Builders the two property tables are written with.
mod build {
    use super::{ListCheck, PropType, Property, StrCheck, Unit};
    use crate::brand::BrandSet as B;

    pub const BOOL: PropType = PropType::Boolean;
    pub const STR: PropType = PropType::Str(StrCheck::Any);
    pub const UUID: PropType = PropType::Uuid;
    pub const LIST: PropType = PropType::List(ListCheck::Any);
    pub const U0: PropType = int(0, i64::MAX);

    /// An integer within bounds.
    pub const fn int(min: i64, max: i64) -> PropType {
        PropType::Integer { min, max }
    }

    /// A row: name, type, brands on create (or add), brands on update.
    pub const fn p(name: &'static str, ty: PropType, create: B, update: B) -> Property {
        Property {
            name,
            ty,
            create,
            update,
            unit: Unit::None,
            default: "",
        }
    }

    /// The row with its default, as the reference words it.
    pub const fn d(prop: Property, default: &'static str) -> Property {
        Property { default, ..prop }
    }

    /// The row with its unit.
    pub const fn u(prop: Property, unit: Unit) -> Property {
        Property { unit, ..prop }
    }
}

pub use sub::{DISK_PROPERTIES, FILESYSTEM_PROPERTIES, NIC_PROPERTIES, PCI_PROPERTIES};
pub use top::{PROPERTIES, UPDATE_MEMBERS};

use crate::brand::{Brand, BrandSet};

/// How a property's value is written in JSON and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropType {
    /// A lowercase UUID string.
    Uuid,
    /// `true`/`false` (and the strings and 0/1 that vmadm tolerates).
    Boolean,
    /// Any string; blank or null means unset.
    Str(StrCheck),
    /// An integer (or numeric string) within bounds.
    Integer {
        /// Smallest accepted value.
        min: i64,
        /// Largest accepted value.
        max: i64,
    },
    /// The name of an imported pool.
    Zpool,
    /// An object whose values are strings, numbers or booleans.
    FlatObject,
    /// An array (or comma string) of strings or numbers.
    List(ListCheck),
    /// An array of objects.
    ObjectArray,
    /// Computed or internal: never accepted in a payload.
    ReadOnly,
}

/// Extra checks on a string property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrCheck {
    /// None.
    Any,
    /// A MAC address of hex digits and colons.
    Mac,
    /// "N" or "N/M", powers of two (bhyve guest_block_size).
    GuestBlockSize,
}

/// Checks on each element of a list property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListCheck {
    /// None.
    Any,
    /// A valid IPv4 or IPv6 address (resolvers).
    Ip,
    /// `[A-Za-z0-9._-]+` (internal_metadata_namespaces).
    Namespace,
    /// `0x` and an even number of hex digits, at most 512 characters.
    DhcpCid,
}

/// How a list is written in `vmadm get`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListForm {
    /// A JSON array.
    Array,
    /// One comma-separated string (limit_priv, fs_allowed).
    CommaString,
}

/// The unit of a numeric property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// No unit.
    None,
    /// Mebibytes.
    Mib,
    /// Gibibytes.
    Gib,
    /// Bytes.
    Bytes,
    /// Seconds.
    Seconds,
    /// Nanoseconds.
    Nanoseconds,
    /// Percent of one CPU.
    PercentCpu,
    /// Megabits per second.
    Mbits,
}

/// One row of a property table.
#[derive(Debug, Clone, Copy)]
pub struct Property {
    /// The key in payloads and output.
    pub name: &'static str,
    /// Its JSON type and checks.
    pub ty: PropType,
    /// Brands that accept it on create (top level) or add (sub-objects).
    pub create: BrandSet,
    /// Brands that accept it on update.
    pub update: BrandSet,
    /// Its unit.
    pub unit: Unit,
    /// The default, as the reference words it (documentation; the values
    /// themselves are applied by `defaults`).
    pub default: &'static str,
}

impl Property {
    /// Whether `brand` may give this property for `action`.
    pub fn allowed(&self, brand: Brand, action: Action) -> bool {
        match action {
            Action::Create | Action::Receive => self.create.contains(brand),
            Action::Update => self.update.contains(brand),
        }
    }

    /// How a list property is written in output.
    pub fn list_form(&self) -> ListForm {
        match self.name {
            "limit_priv" | "fs_allowed" => ListForm::CommaString,
            _ => ListForm::Array,
        }
    }
}

/// What a payload is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `vmadm create` (and `validate create`).
    Create,
    /// `vmadm update` (and `validate update`).
    Update,
    /// `vmadm receive`: what create accepts.
    Receive,
}

impl Action {
    /// The action's name in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Receive => "receive",
        }
    }
}

/// Which sub-object table a collection key uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collection {
    /// `nics`, keyed by `mac`.
    Nics,
    /// `disks`, keyed by `path`.
    Disks,
    /// `filesystems`, keyed by `target`.
    Filesystems,
    /// `pci_devices`, keyed by `path`.
    PciDevices,
}

impl Collection {
    /// Every collection.
    pub const ALL: [Collection; 4] = [
        Collection::Nics,
        Collection::Disks,
        Collection::Filesystems,
        Collection::PciDevices,
    ];

    /// The top-level key (`nics`, ...).
    pub fn key(self) -> &'static str {
        match self {
            Collection::Nics => "nics",
            Collection::Disks => "disks",
            Collection::Filesystems => "filesystems",
            Collection::PciDevices => "pci_devices",
        }
    }

    /// The member that identifies an element for update and remove.
    pub fn id_key(self) -> &'static str {
        match self {
            Collection::Nics => "mac",
            Collection::Disks | Collection::PciDevices => "path",
            Collection::Filesystems => "target",
        }
    }

    /// The sub-object table.
    pub fn properties(self) -> &'static [Property] {
        match self {
            Collection::Nics => NIC_PROPERTIES,
            Collection::Disks => DISK_PROPERTIES,
            Collection::Filesystems => FILESYSTEM_PROPERTIES,
            Collection::PciDevices => PCI_PROPERTIES,
        }
    }

    /// Brands that may add, update or remove elements after create.
    pub fn update_brands(self) -> BrandSet {
        match self {
            Collection::Nics => BrandSet::ANY,
            Collection::Disks => BrandSet::HVM,
            Collection::Filesystems => BrandSet::OS,
            Collection::PciDevices => BrandSet::BHYVE,
        }
    }

    /// The collection whose key (or `add_`/`update_`/`remove_` form) is `key`.
    pub fn from_key(key: &str) -> Option<Collection> {
        Collection::ALL.into_iter().find(|c| c.key() == key)
    }
}

/// The row for top-level property `name`.
pub fn property(name: &str) -> Option<&'static Property> {
    PROPERTIES.iter().find(|p| p.name == name)
}

/// The row for `name` in a sub-object table.
pub fn sub_property(collection: Collection, name: &str) -> Option<&'static Property> {
    collection.properties().iter().find(|p| p.name == name)
}

/// The row for the update-only member `name` (`set_tags`, `add_nics`, ...).
pub fn update_member(name: &str) -> Option<&'static Property> {
    UPDATE_MEMBERS.iter().find(|p| p.name == name)
}

/// Properties required on create for `brand`.
pub fn required_on_create(brand: Brand) -> &'static [&'static str] {
    match brand {
        Brand::Joyent | Brand::JoyentMinimal | Brand::Builder => &["brand", "image_uuid"],
        Brand::Lx => &["brand", "image_uuid", "kernel_version"],
        Brand::Kvm => &["brand"],
        Brand::Bhyve => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_in_every_table() {
        let tables: [&[Property]; 6] = [
            PROPERTIES,
            UPDATE_MEMBERS,
            NIC_PROPERTIES,
            DISK_PROPERTIES,
            FILESYSTEM_PROPERTIES,
            PCI_PROPERTIES,
        ];
        for table in tables {
            let mut names: Vec<_> = table.iter().map(|p| p.name).collect();
            names.sort_unstable();
            let before = names.len();
            names.dedup();
            assert_eq!(before, names.len());
        }
    }

    #[test]
    fn read_only_rows_accept_nothing() {
        for p in PROPERTIES.iter().filter(|p| p.ty == PropType::ReadOnly) {
            for b in Brand::ALL {
                assert!(!p.allowed(b, Action::Create), "{}", p.name);
                assert!(!p.allowed(b, Action::Update), "{}", p.name);
            }
        }
    }

    #[test]
    fn brand_specific_rows() {
        let kv = property("kernel_version").unwrap();
        assert!(kv.allowed(Brand::Lx, Action::Create));
        assert!(!kv.allowed(Brand::Joyent, Action::Create));
        let cpu_type = property("cpu_type").unwrap();
        assert!(cpu_type.allowed(Brand::Kvm, Action::Update));
        assert!(!cpu_type.allowed(Brand::Bhyve, Action::Update));
        assert!(
            !property("uuid")
                .unwrap()
                .allowed(Brand::Joyent, Action::Update)
        );
        assert!(
            !property("nics")
                .unwrap()
                .allowed(Brand::Joyent, Action::Update)
        );
        assert!(
            property("customer_metadata")
                .unwrap()
                .allowed(Brand::Kvm, Action::Create)
        );
        let promisc = sub_property(Collection::Nics, "allow_unfiltered_promisc").unwrap();
        assert!(!promisc.allowed(Brand::Joyent, Action::Create));
        assert!(promisc.allowed(Brand::Kvm, Action::Create));
        assert_eq!(
            property("limit_priv").unwrap().list_form(),
            ListForm::CommaString
        );
        assert_eq!(property("resolvers").unwrap().list_form(), ListForm::Array);
    }
}
