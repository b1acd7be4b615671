//! `imgadm create`: an image from a stopped instance, written as
//! `NAME-VER.imgmanifest` and `NAME-VER.zfs[.EXT]`, and published with
//! `-p URL`.

use std::path::PathBuf;

use basalt_image::manifest::Compression;
use basalt_node::images::create::CreateImage;
use basalt_node::instances::Node;
use basalt_node::paths::Paths;
use serde_json::{Map, Value};

use super::{Failure, Outcome, parse};
use crate::output::stdout;

/// `imgadm create [-m manifest|-] [-o path] [-c compression] [-i] [-p url]
/// [-q] <vm-uuid> [field=value ...]`.
pub fn create(args: &[String]) -> Outcome {
    let mut args = args.to_vec();
    // `--max-origin-depth N`: accepted; the node keeps chains short anyway.
    if let Some(i) = args.iter().position(|a| a == "--max-origin-depth") {
        args.drain(i..(i + 2).min(args.len()));
    }
    let p = parse(&args, "iq", "mocsp")?;
    if p.value('s').is_some() {
        return Err(Failure::Other {
            code: "InvalidArgument",
            message: "-s <prepare-script> is not supported on this node: prepare and stop the instance, then create".into(),
            status: 1,
        });
    }
    let Some((vm, pairs)) = p.operands.split_first() else {
        return Err(Failure::Usage("missing <vm-uuid> argument".into()));
    };
    let mut fields = Map::new();
    if let Some(m) = p.value('m') {
        let text = if m == "-" {
            std::io::read_to_string(std::io::stdin())
        } else {
            std::fs::read_to_string(m)
        }
        .map_err(|e| Failure::Other {
            code: "InvalidArgument",
            message: format!("manifest \"{m}\": {e}"),
            status: 1,
        })?;
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(o)) => fields.extend(o),
            _ => {
                return Err(Failure::Other {
                    code: "InvalidManifest",
                    message: format!("manifest \"{m}\" is not a JSON object"),
                    status: 1,
                });
            }
        }
    }
    for pair in pairs {
        let Some((k, v)) = pair.split_once('=') else {
            return Err(Failure::Usage(format!(
                "invalid manifest field argument: \"{pair}\" (must be FIELD=VALUE)"
            )));
        };
        // Parsed as JSON first, as SmartOS does (`disabled=true`).
        let value = serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_owned()));
        fields.insert(k.to_owned(), value);
    }
    let compression = match p.value('c') {
        None => Compression::None,
        Some(c) => Compression::parse(c).ok_or_else(|| {
            Failure::Usage(format!(
                "invalid compression \"{c}\": must be one of none, gzip, bzip2, xz, zstd"
            ))
        })?,
    };
    let node = Node::open(Paths::from_env()).map_err(|e| Failure::Other {
        code: "InternalError",
        message: e.to_string(),
        status: 1,
    })?;
    super::remote::catch_interruptions();
    let req = CreateImage {
        vm: vm.clone(),
        fields,
        incremental: p.has('i'),
        compression,
        output: p.value('o').map(PathBuf::from),
    };
    let made = node.create_image(&req)?;
    let m = &made.manifest;
    stdout(&format!(
        "Created image {} ({}@{}) from VM {vm}{}\n",
        m.uuid,
        m.name,
        m.version,
        if req.incremental {
            " (incremental)"
        } else {
            ""
        }
    ));
    stdout(&format!(
        "Created image files:\n    {}\n    {}\n",
        made.manifest_path.display(),
        made.file_path.display()
    ));
    if let Some(url) = p.value('p') {
        super::remote::publish_to(url, &made.manifest_path, &made.file_path, p.has('q'))?;
    }
    Ok(())
}
