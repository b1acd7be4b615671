//! `vmadm list` and `vmadm lookup`: parse options and filters, then hand
//! the node's instances to the model's listing engine, which owns the
//! grammar, the columns and their widths.

use basalt_model::VmObject;
use basalt_model::listing::{
    Filter, FilterKind, ListError, ListSpec, Table, add_computed_fields, matches_all,
    parse_filters, project, sort_vms,
};
use basalt_node::instances::Node;
use serde_json::Value;

use super::commands::pretty;
use super::{Failure, Outcome};
use crate::getopt::{self, GetoptError, Parsed};
use crate::output::{message, stdout};

/// Options and filters (the operands) of a list or lookup command line.
fn parse_options(args: &[String], flags: &str, with_value: &str) -> Result<Parsed, Failure> {
    getopt::parse(args, flags, with_value).map_err(|e| {
        Failure::Usage(match e {
            GetoptError::MissingValue(c) => format!("option -{c} requires an argument"),
            GetoptError::Unknown(c) => format!("unknown option -{c}"),
        })
    })
}

/// The instances matching `filters`, with list/lookup's computed fields,
/// sorted by uuid, and whether some instance could not be read (each is
/// named on stderr; the command prints the others, then fails).
fn matching(node: &Node, filters: &[Filter]) -> Result<(Vec<VmObject>, bool), Failure> {
    let listing = node.list().map_err(Failure::op)?;
    for broken in &listing.broken {
        tracing::error!(error = %broken, "instance configuration unreadable");
        message(&broken.to_string());
    }
    let mut vms: Vec<VmObject> = listing
        .vms
        .into_iter()
        .map(|mut vm| {
            add_computed_fields(&mut vm);
            vm
        })
        .filter(|vm| matches_all(vm, filters))
        .collect();
    vms.sort_by(|a, b| uuid(a).cmp(uuid(b)));
    Ok((vms, !listing.broken.is_empty()))
}

fn uuid(vm: &VmObject) -> &str {
    vm.get("uuid").and_then(Value::as_str).unwrap_or("")
}

fn finish(broken: bool) -> Outcome {
    if broken {
        Err(Failure::Operation(
            "some instance configurations could not be read (named above)".into(),
        ))
    } else {
        Ok(())
    }
}

/// `vmadm list [-p] [-H] [-h] [-o fields] [-s fields] [filters]`.
pub fn list(node: &Node, args: &[String]) -> Outcome {
    let o = parse_options(args, "pHh", "os")?;
    let filters = parse_filters(&o.operands, FilterKind::List).map_err(Failure::op)?;
    let spec = ListSpec::parse(o.value('o'), o.value('s')).map_err(Failure::op)?;
    let (mut vms, broken) = matching(node, &filters)?;
    sort_vms(&mut vms, spec.sort());
    let header = if o.has('H') {
        Some(false)
    } else if o.has('h') {
        Some(true)
    } else {
        None
    };
    let table = Table::new(spec.columns().to_vec(), o.has('p'), header);
    stdout(&table.render(&vms));
    finish(broken)
}

/// `vmadm lookup [-j|-1] [-o fields] [filters]`.
pub fn lookup(node: &Node, args: &[String]) -> Outcome {
    let o = parse_options(args, "j1", "o")?;
    let json = o.has('j');
    if o.value('o').is_some() && !json {
        return Err(Failure::Usage(ListError::OutputWithoutJson.to_string()));
    }
    let filters = parse_filters(&o.operands, FilterKind::Lookup).map_err(Failure::op)?;
    let (mut vms, broken) = matching(node, &filters)?;
    if o.has('1') && vms.len() != 1 {
        return Err(Failure::op(ListError::NotUnique { found: vms.len() }));
    }
    if json {
        node.show_all_snapshots(&mut vms);
        let fields: Option<Vec<&str>> = o.value('o').map(|s| s.split(',').collect());
        let out: Vec<Value> = vms
            .iter()
            .filter_map(|vm| match &fields {
                Some(f) => project(vm, f),
                None => Some(vm.clone()),
            })
            .map(Value::Object)
            .collect();
        stdout(&pretty(&Value::Array(out)));
    } else {
        let text: String = vms.iter().map(|vm| format!("{}\n", uuid(vm))).collect();
        stdout(&text);
    }
    finish(broken)
}
