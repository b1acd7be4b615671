//! vmadm's commands on one instance, and validate.

use basalt_model::Brand;
use basalt_model::update::parse_args;
use basalt_node::instances::{Node, NodeError};
use serde_json::Value;

use super::payload::{self, Source};
use super::{Failure, Outcome, uuid_arg};
use crate::output::{message, stdout};

/// `vmadm get <uuid>`: the instance as pretty JSON on stdout.
pub fn get(node: &Node, args: &[String]) -> Outcome {
    let uuid = uuid_arg(args, "get")?;
    let vm = node.get(&uuid).map_err(Failure::op)?;
    stdout(&pretty(&Value::Object(vm)));
    Ok(())
}

/// JSON indented by two spaces with a trailing newline, as vmadm prints.
pub fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

/// `vmadm create [-f file]`.
pub fn create(node: &Node, args: &[String]) -> Outcome {
    let (source, rest) = payload::take_file(args)?;
    if !rest.is_empty() {
        return Err(Failure::Usage(format!("Unexpected args: {rest:?}")));
    }
    let payload = payload::read(&source, "Will not create from stdin when stdin is a tty.")?;
    let created = node.create(payload).map_err(Failure::op)?;
    let uuid = created.vm.get("uuid").and_then(Value::as_str).unwrap_or("");
    for key in &created.dropped {
        tracing::warn!(vm_uuid = uuid, property = %key, "ignoring property not allowed for this brand on create");
    }
    tracing::info!(vm_uuid = uuid, "created");
    message(&format!("Successfully created VM {uuid}"));
    Ok(())
}

/// `vmadm update <uuid> [-f file]` or `vmadm update <uuid> k=v ...`.
pub fn update(node: &Node, args: &[String]) -> Outcome {
    let uuid = uuid_arg(args, "update")?;
    let (source, rest) = payload::take_file(&args[1..])?;
    let payload = if rest.is_empty() {
        payload::read(&source, "Will not update from stdin when stdin is a tty.")?
    } else {
        if let Source::File(_) = source {
            return Err(Failure::Usage(format!("Unexpected args: {rest:?}")));
        }
        parse_args(&rest).map_err(Failure::op)?
    };
    let updated = node.update(&uuid, payload).map_err(Failure::op)?;
    for key in &updated.dropped {
        tracing::warn!(vm_uuid = %uuid, property = %key, "ignoring property that cannot be updated for this brand");
    }
    for w in &updated.warnings {
        tracing::warn!(vm_uuid = %uuid, "{w}");
    }
    for change in &updated.changes {
        tracing::info!(vm_uuid = %uuid, change = %change.path(), "updated");
    }
    message(&format!("Successfully updated VM {uuid}"));
    Ok(())
}

/// `vmadm delete <uuid>`.
pub fn delete(node: &Node, args: &[String]) -> Outcome {
    let uuid = uuid_arg(args, "delete")?;
    node.delete(&uuid)
        .map_err(|e| Failure::Operation(format!("Failed to delete VM {uuid}: {e}")))?;
    message(&format!("Successfully deleted VM {uuid}"));
    Ok(())
}

/// `vmadm validate create [-f file]` and `vmadm validate update <brand>
/// [-f file]`.
pub fn validate(node: &Node, args: &[String]) -> Outcome {
    let (source, rest) = payload::take_file(args)?;
    let action = rest.first().map(String::as_str);
    let (action, brand) = match (action, rest.get(1)) {
        (Some("create"), None) => ("create", None),
        (Some("update"), Some(b)) if rest.len() == 2 => match b.parse::<Brand>() {
            Ok(brand) => ("update", Some(brand)),
            Err(_) => {
                return Err(Failure::Usage(
                    "Will not validate without a valid action and brand.".into(),
                ));
            }
        },
        (Some("update"), None) => {
            return Err(Failure::Usage(
                "Will not validate without a valid action and brand.".into(),
            ));
        }
        (Some("create"), Some(_)) => {
            return Err(Failure::Usage(format!("Unexpected args: {:?}", &rest[1..])));
        }
        _ => {
            return Err(Failure::Usage(
                "Will not validate without a valid action.".into(),
            ));
        }
    };
    let payload = payload::read(
        &source,
        "Will not take payload from stdin when stdin is a tty.",
    )?;
    let report = match brand {
        Some(b) => node.validate_update(b, &payload),
        None => node.validate_create(&payload),
    }
    .map_err(|e: NodeError| Failure::op(e))?;
    if !report.is_valid() {
        return Err(Failure::Operation(
            pretty(&report.to_json()).trim_end().to_owned(),
        ));
    }
    let brand_name = match brand {
        Some(b) => b.as_str().to_owned(),
        None => payload
            .get("brand")
            .and_then(Value::as_str)
            .unwrap_or("joyent")
            .to_owned(),
    };
    message(&format!(
        "VALID '{action}' payload for {brand_name} brand VMs."
    ));
    Ok(())
}
