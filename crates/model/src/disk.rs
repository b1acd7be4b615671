//! HVM disks: the rewriting and checks applied when a disk is added
//! (reference 2.6 step 10, 2.9, 2.14), and the shape `vmadm get` prints.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::brand::Brand;
use crate::checks::{COMPRESSIONS, valid_block_size};
use crate::facts::Entropy;
use crate::ids::VmUuid;
use crate::pci::PciSlot;
use crate::value::{as_bool, as_integer, compact, int_value, is_unset};

/// The default volume block size, bytes.
pub const DEFAULT_BLOCK_SIZE: i64 = 8192;

/// Disk models each HVM brand offers.
pub fn models(brand: Brand) -> &'static [&'static str] {
    match brand {
        Brand::Bhyve => &["virtio", "ahci", "nvme"],
        _ => &["virtio", "ide", "scsi"],
    }
}

/// What adding disks needs to know of the instance.
pub struct DiskContext<'a> {
    /// The instance.
    pub uuid: &'a VmUuid,
    /// Its brand (kvm or bhyve).
    pub brand: Brand,
    /// Its pool.
    pub zpool: &'a str,
    /// `disk_driver`, the default model.
    pub disk_driver: Option<&'a str>,
    /// The disks it already has.
    pub existing: &'a [Map<String, Value>],
}

/// Normalises disks being added. Returns every problem found.
pub fn normalise_added(
    added: &[Map<String, Value>],
    ctx: &DiskContext<'_>,
    entropy: &mut dyn Entropy,
) -> Result<Vec<Map<String, Value>>, Vec<String>> {
    let mut errors = Vec::new();
    let mut indexes: BTreeSet<u32> = ctx.existing.iter().filter_map(disk_index).collect();
    let mut slots: BTreeSet<String> = ctx
        .existing
        .iter()
        .filter_map(|d| d.get("pci_slot").and_then(Value::as_str).map(str::to_owned))
        .collect();
    let first_model = ctx
        .existing
        .iter()
        .chain(added)
        .find_map(|d| d.get("model").and_then(Value::as_str))
        .map(str::to_owned);
    let fallback = ctx.disk_driver.map(str::to_owned).or(first_model);
    let mut out = Vec::new();
    for given in added {
        let mut disk = coerce(given);
        check_one(&mut disk, given, ctx, fallback.as_deref(), &mut errors);
        let creates_volume = disk["media"] == "disk" && !flag(&disk, "nocreate");
        if creates_volume {
            let n = (0..).find(|i| !indexes.contains(i)).unwrap_or(0);
            indexes.insert(n);
            name_volume(&mut disk, ctx, n);
        }
        if ctx.brand == Brand::Bhyve {
            assign_bhyve_ids(&mut disk, &mut slots, entropy);
        }
        out.push(disk);
    }
    let mut uuids = BTreeSet::new();
    for d in ctx.existing.iter().chain(&out) {
        if let Some(u) = d.get("uuid").and_then(Value::as_str)
            && !uuids.insert(u.to_owned())
        {
            errors.push(format!("duplicate disk uuid {u}"));
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn flag(disk: &Map<String, Value>, key: &str) -> bool {
    disk.get(key) == Some(&Value::Bool(true))
}

fn coerce(given: &Map<String, Value>) -> Map<String, Value> {
    let mut disk = given.clone();
    disk.retain(|_, v| !is_unset(v));
    for key in ["boot", "nocreate", "notrim", "dangerous_allow_shrink"] {
        if let Some(b) = disk.get(key).and_then(as_bool) {
            disk.insert(key.into(), Value::Bool(b));
        }
    }
    for key in ["block_size", "image_size", "refreservation", "size"] {
        if let Some(n) = disk.get(key).and_then(as_integer) {
            disk.insert(key.into(), int_value(n));
        }
    }
    disk.entry("media").or_insert_with(|| json!("disk"));
    disk
}

fn check_one(
    disk: &mut Map<String, Value>,
    given: &Map<String, Value>,
    ctx: &DiskContext<'_>,
    fallback_model: Option<&str>,
    errors: &mut Vec<String>,
) {
    let json = compact(given);
    let cdrom = disk["media"] == "cdrom";
    if disk.contains_key("path") && !cdrom && !flag(disk, "nocreate") {
        errors.push("you cannot specify a path for a disk unless you set nocreate=true".into());
    }
    if let Some(n) = disk.get("block_size").and_then(Value::as_i64) {
        if !valid_block_size(n) {
            errors.push(format!(
                "invalid .block_size({n}), must be 512-131072 and a power of 2."
            ));
        }
        if disk.contains_key("image_uuid") {
            errors.push("setting both .block_size and .image_uuid on a volume is invalid".into());
        }
    }
    match disk.get("compression").and_then(Value::as_str) {
        Some(c) if !COMPRESSIONS.contains(&c) => errors.push(format!(
            "invalid compression setting for disk, must be one of: {}",
            COMPRESSIONS.join(", ")
        )),
        Some(_) => {}
        None => {
            disk.insert("compression".into(), json!("off"));
        }
    }
    match disk.get("model").and_then(Value::as_str).or(fallback_model) {
        None => errors.push(format!("missing .model option for disk: {json}")),
        Some(m) if !models(ctx.brand).contains(&m) => errors.push(format!(
            "\"{m}\" is not a valid disk model for {} brand. Valid are: {}",
            ctx.brand,
            models(ctx.brand).join(", ")
        )),
        Some(m) => {
            disk.insert("model".into(), Value::String(m.to_owned()));
        }
    }
    if !cdrom {
        if let Some(size) = disk
            .get("image_size")
            .cloned()
            .filter(|_| !disk.contains_key("size"))
        {
            disk.insert("size".into(), size);
        }
        if !disk.contains_key("image_uuid") && !disk.contains_key("block_size") {
            disk.insert("block_size".into(), int_value(DEFAULT_BLOCK_SIZE));
        }
        if let Some(size) = disk
            .get("size")
            .cloned()
            .filter(|_| !disk.contains_key("refreservation"))
        {
            disk.insert("refreservation".into(), size);
        }
    }
    disk.entry("boot").or_insert(Value::Bool(false));
}

/// The index N of a disk's volume name (`...-diskN` or `.../diskN`).
pub fn disk_index(disk: &Map<String, Value>) -> Option<u32> {
    let fs = disk.get("zfs_filesystem")?.as_str()?;
    let pos = fs.rfind("disk")?;
    fs[pos + 4..].parse().ok()
}

fn name_volume(disk: &mut Map<String, Value>, ctx: &DiskContext<'_>, n: u32) {
    let zpool = disk
        .get("zpool")
        .and_then(Value::as_str)
        .unwrap_or(ctx.zpool)
        .to_owned();
    let fs = match ctx.brand {
        Brand::Bhyve => format!("{zpool}/{}/disk{n}", ctx.uuid),
        _ => format!("{zpool}/{}-disk{n}", ctx.uuid),
    };
    disk.insert("path".into(), Value::String(format!("/dev/zvol/rdsk/{fs}")));
    disk.insert("zfs_filesystem".into(), Value::String(fs));
    disk.insert("zpool".into(), Value::String(zpool));
}

fn assign_bhyve_ids(
    disk: &mut Map<String, Value>,
    slots: &mut BTreeSet<String>,
    entropy: &mut dyn Entropy,
) {
    if !disk.contains_key("uuid") {
        let mut b = [0u8; 16];
        entropy.fill(&mut b);
        disk.insert(
            "uuid".into(),
            Value::String(VmUuid::from_random_bytes(b).to_string()),
        );
    }
    if let Some(slot) = disk.get("pci_slot").and_then(Value::as_str) {
        slots.insert(slot.to_owned());
        return;
    }
    let dev = if disk["media"] == "cdrom" { 3 } else { 4 };
    let free = (0..8)
        .map(|func| PciSlot { bus: 0, dev, func }.to_string())
        .find(|s| !slots.contains(s));
    if let Some(s) = free {
        slots.insert(s.clone());
        disk.insert("pci_slot".into(), Value::String(s));
    }
}

/// The disk as `vmadm get` prints it, in vmadm's key order.
pub fn output(disk: &Map<String, Value>) -> Map<String, Value> {
    crate::order::ordered(disk.clone(), crate::order::DISK_ORDER)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::SeededEntropy;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn add(
        brand: Brand,
        disks: Value,
        driver: Option<&str>,
    ) -> Result<Vec<Map<String, Value>>, Vec<String>> {
        let uuid: VmUuid = "54f1cc77-68f1-42ab-acac-5c4f64f5d6e0".parse().unwrap();
        let ctx = DiskContext {
            uuid: &uuid,
            brand,
            zpool: "zones",
            disk_driver: driver,
            existing: &[],
        };
        let disks: Vec<_> = disks
            .as_array()
            .unwrap()
            .iter()
            .map(|d| obj(d.clone()))
            .collect();
        normalise_added(&disks, &ctx, &mut SeededEntropy(3))
    }

    #[test]
    fn kvm_volumes_are_named_and_defaulted() {
        let d = add(Brand::Kvm, json!([
            {"image_uuid": "01b2c898-945f-11e1-a523-af1afbe22822", "image_size": 10240, "boot": true},
            {"size": "2048"}, {"media": "cdrom", "path": "/x.iso"}]), Some("virtio")).unwrap();
        assert_eq!(
            d[0]["zfs_filesystem"],
            "zones/54f1cc77-68f1-42ab-acac-5c4f64f5d6e0-disk0"
        );
        assert_eq!(
            d[0]["path"],
            "/dev/zvol/rdsk/zones/54f1cc77-68f1-42ab-acac-5c4f64f5d6e0-disk0"
        );
        assert_eq!(d[0]["size"], 10240);
        assert_eq!(d[0]["refreservation"], 10240);
        assert_eq!(d[0]["model"], "virtio");
        assert!(!d[0].contains_key("block_size"));
        assert_eq!(
            d[1]["zfs_filesystem"],
            "zones/54f1cc77-68f1-42ab-acac-5c4f64f5d6e0-disk1"
        );
        assert_eq!(d[1]["block_size"], 8192);
        assert_eq!(d[1]["compression"], "off");
        assert_eq!(d[2]["path"], "/x.iso");
        assert!(!d[2].contains_key("zfs_filesystem"));
    }

    #[test]
    fn bhyve_disks_get_slots_and_uuids() {
        let d = add(
            Brand::Bhyve,
            json!([{"size": 1024, "model": "virtio"}, {"size": 1024, "model": "nvme"},
            {"media": "cdrom", "path": "/x.iso", "model": "ahci"}]),
            None,
        )
        .unwrap();
        assert_eq!(
            d[0]["zfs_filesystem"],
            "zones/54f1cc77-68f1-42ab-acac-5c4f64f5d6e0/disk0"
        );
        assert_eq!(d[0]["pci_slot"], "0:4:0");
        assert_eq!(d[1]["pci_slot"], "0:4:1");
        assert_eq!(d[2]["pci_slot"], "0:3:0");
        assert!(crate::ids::is_uuid(d[0]["uuid"].as_str().unwrap()));
        let dup = add(
            Brand::Bhyve,
            json!([
            {"size": 1, "model": "virtio", "uuid": "01b2c898-945f-11e1-a523-af1afbe22822"},
            {"size": 1, "model": "virtio", "uuid": "01b2c898-945f-11e1-a523-af1afbe22822"}]),
            None,
        );
        assert_eq!(
            dup.unwrap_err(),
            ["duplicate disk uuid 01b2c898-945f-11e1-a523-af1afbe22822"]
        );
    }

    #[test]
    fn disk_messages() {
        let e = add(
            Brand::Kvm,
            json!([{"size": 1, "path": "/dev/x", "block_size": 1000,
            "compression": "snappy"}]),
            None,
        )
        .unwrap_err();
        assert_eq!(
            e,
            [
                "you cannot specify a path for a disk unless you set nocreate=true",
                "invalid .block_size(1000), must be 512-131072 and a power of 2.",
                "invalid compression setting for disk, must be one of: on, off, gzip, gzip-1, gzip-2, gzip-3, gzip-4, gzip-5, gzip-6, gzip-7, gzip-8, gzip-9, lz4, lzjb, zle",
                r#"missing .model option for disk: {"size":1,"path":"/dev/x","block_size":1000,"compression":"snappy"}"#,
            ]
        );
        let e = add(Brand::Bhyve, json!([{"size": 1, "model": "ide"}]), None).unwrap_err();
        assert_eq!(
            e,
            ["\"ide\" is not a valid disk model for bhyve brand. Valid are: virtio, ahci, nvme"]
        );
        let e = add(
            Brand::Kvm,
            json!([{"image_uuid": "01b2c898-945f-11e1-a523-af1afbe22822",
            "image_size": 5, "block_size": 512, "model": "virtio"}]),
            None,
        )
        .unwrap_err();
        assert_eq!(
            e,
            ["setting both .block_size and .image_uuid on a volume is invalid"]
        );
    }
}
