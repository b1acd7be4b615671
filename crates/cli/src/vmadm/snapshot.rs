//! `vmadm create-snapshot`, `delete-snapshot` and `rollback-snapshot`
//! `<uuid> <name>`: the uuid is checked first, then the count of
//! arguments, as vmadm does.

use basalt_node::instances::Node;

use super::{Failure, Outcome, uuid_arg};
use crate::output::message;

/// One of the three snapshot commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Create,
    Delete,
    Rollback,
}

impl Verb {
    fn command(self) -> &'static str {
        match self {
            Verb::Create => "create-snapshot",
            Verb::Delete => "delete-snapshot",
            Verb::Rollback => "rollback-snapshot",
        }
    }

    fn done(self) -> &'static str {
        match self {
            Verb::Create => "Created",
            Verb::Delete => "Deleted",
            Verb::Rollback => "Rolled back",
        }
    }
}

/// `vmadm <verb>-snapshot <uuid> <name>`.
pub fn run(node: &Node, verb: Verb, args: &[String]) -> Outcome {
    let command = verb.command();
    let uuid = uuid_arg(args, command)?;
    let [_, name] = args else {
        return Err(Failure::Usage(format!(
            "Wrong number of parameters to \"{command}\""
        )));
    };
    match verb {
        Verb::Create => node.create_snapshot(&uuid, name),
        Verb::Delete => node.delete_snapshot(&uuid, name),
        Verb::Rollback => node.rollback_snapshot(&uuid, name),
    }
    .map_err(Failure::op)?;
    message(&format!("{} snapshot {name} for VM {uuid}", verb.done()));
    Ok(())
}
