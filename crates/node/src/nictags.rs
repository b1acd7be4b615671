//! Nic tags: the names instances' NICs use for the node's switches
//! (`nics.*.nic_tag`), so that no configuration names a device.
//!
//! A tag is an etherstub (a host-only switch) or a physical link named by
//! its MAC; the tags are kept in the node's configuration (see
//! [`crate::config`]). This module checks and records changes to them,
//! lists them, finds the instances using one, and resolves a tag to what
//! the network layer needs. It makes no bridge: the network layer makes a
//! tag's bridge when an instance needs it. Deleting an etherstub removes
//! its bridges that no port uses any more.
//!
//! Decisions are pure ([`plan_add`], [`plan_update`], [`plan_delete`],
//! [`listing`], [`resolve`]), taking the host's links as data; the
//! functions taking [`Paths`] read the links and the instances, and write.
//!
//! On Linux a link is the port of one bridge at most, so two tags cannot
//! share a MAC, and a tag cannot be named like a link of the host, since
//! its bridge takes its name.

use std::collections::HashSet;

use basalt_model::ids::Mac;
use basalt_model::listing::{DEFAULT_SORT, add_computed_fields, parse_sort, sort_vms};
use basalt_net::netlink::{Link, Netlink, NetlinkError};
use basalt_net::{Tag, Uplink, names};
use serde_json::Value;

use crate::config::{self, ConfigError, NicTag, NodeConfig, TagChange, TagKind};
use crate::paths::Paths;
use crate::store::{Store, StoreError};

/// The longest tag name: SmartOS keeps room for the global zone's VNICs
/// named after a tag and a number (`external0`).
pub const MAX_NAME: usize = 30;

/// The MTUs a tag may have.
pub const MTU_RANGE: std::ops::RangeInclusive<u32> = 1500..=9000;

/// A nic tag operation that was refused or failed. Where SmartOS's
/// nictagadm has a message for the case, it is that message.
#[derive(Debug, thiserror::Error)]
pub enum NicTagError {
    /// A tag of this name exists.
    #[error("nic tag '{0}' already exists")]
    Exists(String),
    /// No tag has this name.
    #[error("nic tag '{0}' does not exist")]
    NotFound(String),
    /// The name is not letters, digits and underscores, or is longer
    /// than [`MAX_NAME`].
    #[error("nic tag name is invalid")]
    InvalidName(String),
    /// The MAC address does not parse.
    #[error("MAC address '{0}' is invalid")]
    InvalidMac(String),
    /// No link of the host has the MAC address.
    #[error("No physical nic found with MAC address '{0}'")]
    NoSuchNic(Mac),
    /// Another tag is bound to the MAC address: a link can be the port of
    /// one bridge only.
    #[error("MAC address '{mac}' is already used by nic tag '{tag}'")]
    MacInUse { mac: Mac, tag: String },
    /// A link of the host has the name the tag's bridge would take.
    #[error("nic tag name '{0}' is the name of an existing link")]
    NameIsLink(String),
    /// Instances have NICs on the tag.
    #[error("nic tag '{0}' is in use")]
    InUse(String),
    /// An etherstub has no MAC or MTU to update.
    #[error("cannot update a local tag")]
    UpdateEtherstub(String),
    /// Neither a MAC nor an MTU was given to update.
    #[error("nothing to update")]
    NothingToUpdate,
    /// The MTU is not a number.
    #[error("invalid mtu: {0}")]
    InvalidMtu(String),
    /// The MTU is outside [`MTU_RANGE`].
    #[error("mtu must be between 1500-9000")]
    MtuOutOfRange(String),
    /// The tag's MAC belongs to no link of the host.
    #[error(
        "nic tag '{tag}' is bound to MAC address {mac}, which no link of this host has \
         (bind it to a link with nictagadm update)"
    )]
    Unbound { tag: String, mac: Mac },
    /// The tag names a link the host does not have.
    #[error("nic tag '{tag}' is bound to link '{link}', which this host does not have")]
    NoSuchLink { tag: String, link: String },
    /// The node's configuration could not be read or written.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The instances could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The host's links could not be read or changed.
    #[error(transparent)]
    Netlink(#[from] NetlinkError),
}

/// Whether `name` may name a tag: letters, digits and underscores, at
/// most [`MAX_NAME`] of them (no dot: `<tag>.<vlan>` names a VLAN's
/// bridge).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !is_port_name(name)
}

/// Whether `name` looks like an instance's host link (`z<n>_...`), which a
/// tag's bridge must never be mistaken for.
fn is_port_name(name: &str) -> bool {
    name.strip_prefix('z')
        .and_then(|rest| rest.split_once('_'))
        .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Reads an MTU as typed: digits, within [`MTU_RANGE`].
pub fn parse_mtu(text: &str) -> Result<u32, NicTagError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NicTagError::InvalidMtu(text.to_owned()));
    }
    text.parse::<u32>()
        .ok()
        .filter(|m| MTU_RANGE.contains(m))
        .ok_or_else(|| NicTagError::MtuOutOfRange(text.to_owned()))
}

/// The link a physical tag bound to `mac` uses: a link with that MAC,
/// but not one that only carries it for another (a bridge or an 802.1Q
/// or ipvlan sub-link has its port's MAC, a bond's ports have the
/// bond's), preferring one with no driver kind (a real device), then the
/// lowest index.
pub fn link_for_mac(links: &[Link], mac: Mac) -> Option<&Link> {
    if mac.0 == [0; 6] {
        return None;
    }
    let kind = |index: u32| links.iter().find(|l| l.index == index)?.kind.as_deref();
    links
        .iter()
        .filter(|l| l.mac == Some(mac))
        .filter(|l| !matches!(l.kind.as_deref(), Some("bridge" | "vlan" | "ipvlan")))
        .filter(|l| l.master.and_then(kind) != Some("bond"))
        .min_by_key(|l| (l.kind.is_some(), l.index))
}

/// Whether a tag of this name exists (the lenient reading vmadm uses: a
/// malformed value does not hide the tag).
pub fn exists(config: &NodeConfig, name: &str) -> bool {
    config.nic_tags().iter().any(|t| t == name)
}

/// What `add` is asked to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewTag<'a> {
    /// An etherstub.
    Etherstub,
    /// A tag on the link with this MAC (as typed), with its MTU.
    Physical { mac: &'a str, mtu: Option<u32> },
}

/// The MAC as typed, checked: it parses, a link has it, and no tag but
/// `tag` is bound to it.
fn check_mac(tags: &[NicTag], links: &[Link], tag: &str, typed: &str) -> Result<Mac, NicTagError> {
    let mac = Mac::parse(typed).ok_or_else(|| NicTagError::InvalidMac(typed.to_owned()))?;
    if link_for_mac(links, mac).is_none() {
        return Err(NicTagError::NoSuchNic(mac));
    }
    let other = tags
        .iter()
        .find(|t| t.name != tag && t.kind == TagKind::Physical { mac });
    match other {
        Some(t) => Err(NicTagError::MacInUse {
            mac,
            tag: t.name.clone(),
        }),
        None => Ok(mac),
    }
}

/// The changes that add tag `name`, checked in SmartOS's order (exists,
/// MAC, name), then basalt's (a free MAC, a name no link has).
pub fn plan_add(
    config: &NodeConfig,
    links: &[Link],
    name: &str,
    new: NewTag<'_>,
) -> Result<Vec<TagChange>, NicTagError> {
    if exists(config, name) {
        return Err(NicTagError::Exists(name.to_owned()));
    }
    let tags = config.tags()?;
    let mac = match new {
        NewTag::Physical { mac, .. } => Some(check_mac(&tags, links, name, mac)?),
        NewTag::Etherstub => None,
    };
    if !valid_name(name) {
        return Err(NicTagError::InvalidName(name.to_owned()));
    }
    if links
        .iter()
        .any(|l| l.name == name && l.kind.as_deref() != Some("bridge"))
    {
        return Err(NicTagError::NameIsLink(name.to_owned()));
    }
    Ok(match (new, mac) {
        (NewTag::Physical { mtu, .. }, Some(mac)) => {
            let mut changes = vec![TagChange::SetNic {
                tag: name.to_owned(),
                mac,
            }];
            changes.extend(mtu.map(|mtu| TagChange::SetMtu {
                tag: name.to_owned(),
                mtu,
            }));
            changes
        }
        _ => vec![TagChange::AddEtherstub(name.to_owned())],
    })
}

/// The changes that give tag `name` a new MAC (as typed) and/or MTU.
pub fn plan_update(
    config: &NodeConfig,
    links: &[Link],
    name: &str,
    mac: Option<&str>,
    mtu: Option<u32>,
) -> Result<Vec<TagChange>, NicTagError> {
    if mac.is_none() && mtu.is_none() {
        return Err(NicTagError::NothingToUpdate);
    }
    if !exists(config, name) {
        return Err(NicTagError::NotFound(name.to_owned()));
    }
    let tags = config.tags()?;
    if !tags
        .iter()
        .any(|t| t.name == name && t.kind != TagKind::Etherstub)
    {
        return Err(NicTagError::UpdateEtherstub(name.to_owned()));
    }
    let mut changes = Vec::new();
    if let Some(typed) = mac {
        changes.push(TagChange::SetNic {
            tag: name.to_owned(),
            mac: check_mac(&tags, links, name, typed)?,
        });
    }
    changes.extend(mtu.map(|mtu| TagChange::SetMtu {
        tag: name.to_owned(),
        mtu,
    }));
    Ok(changes)
}

/// The changes that delete tag `name`, which the instances `users` have
/// NICs on; refused while there are any, unless `force`.
pub fn plan_delete(
    config: &NodeConfig,
    name: &str,
    users: &[String],
    force: bool,
) -> Result<Vec<TagChange>, NicTagError> {
    if !exists(config, name) {
        return Err(NicTagError::NotFound(name.to_owned()));
    }
    if !force && !users.is_empty() {
        return Err(NicTagError::InUse(name.to_owned()));
    }
    Ok(vec![TagChange::Remove(name.to_owned())])
}

/// One row of `nictagadm list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The tag's name.
    pub name: String,
    /// What the configuration binds it to.
    pub kind: TagKind,
    /// The link it uses now, if the host has it.
    pub link: Option<String>,
}

/// The tags with the links they use now (none for an etherstub, or a MAC
/// no link has).
pub fn listing(tags: &[NicTag], links: &[Link]) -> Vec<Listed> {
    tags.iter()
        .map(|t| Listed {
            name: t.name.clone(),
            link: match &t.kind {
                TagKind::Etherstub => None,
                TagKind::Physical { mac } => link_for_mac(links, *mac).map(|l| l.name.clone()),
                TagKind::Link { name } => Some(name.clone()),
            },
            kind: t.kind.clone(),
        })
        .collect()
}

/// Tag `name` as the network layer needs it: an etherstub, or the link
/// that has the tag's MAC now (or the link the tag names), with the tag's
/// MTU.
pub fn resolve(config: &NodeConfig, links: &[Link], name: &str) -> Result<Tag, NicTagError> {
    let tag = config
        .tags()?
        .into_iter()
        .find(|t| t.name == name)
        .ok_or_else(|| NicTagError::NotFound(name.to_owned()))?;
    let uplink = match tag.kind {
        TagKind::Etherstub => Uplink::Etherstub,
        TagKind::Physical { mac } => Uplink::Physical {
            link: link_for_mac(links, mac)
                .ok_or_else(|| NicTagError::Unbound {
                    tag: tag.name.clone(),
                    mac,
                })?
                .name
                .clone(),
        },
        TagKind::Link { name: link } if links.iter().any(|l| l.name == link) => {
            Uplink::Physical { link }
        }
        TagKind::Link { name: link } => {
            return Err(NicTagError::NoSuchLink {
                tag: tag.name,
                link,
            });
        }
    };
    Ok(Tag {
        name: tag.name,
        uplink,
        mtu: tag.mtu,
    })
}

/// The bridges of tag `tag` (untagged and every VLAN's) that no link is a
/// port of.
pub fn idle_bridges<'a>(links: &'a [Link], tag: &str) -> Vec<&'a Link> {
    let bridges: HashSet<String> = (0..=4095).map(|vlan| names::bridge(tag, vlan)).collect();
    links
        .iter()
        .filter(|b| b.kind.as_deref() == Some("bridge") && bridges.contains(&b.name))
        .filter(|b| !links.iter().any(|port| port.master == Some(b.index)))
        .collect()
}

/// The links of the calling thread's network namespace.
pub fn host_links() -> Result<Vec<Link>, NicTagError> {
    Ok(Netlink::open()?.links()?)
}

/// The node's tags as `nictagadm list` shows them.
pub fn list(paths: &Paths) -> Result<Vec<Listed>, NicTagError> {
    let config = NodeConfig::load(&paths.node_config())?;
    Ok(listing(&config.tags()?, &host_links()?))
}

/// Adds tag `name`.
pub fn add(paths: &Paths, name: &str, new: NewTag<'_>) -> Result<(), NicTagError> {
    let links = host_links()?;
    config::update_tags(&paths.node_config(), |c| plan_add(c, &links, name, new))?;
    Ok(())
}

/// Gives tag `name` a new MAC (as typed) and/or MTU.
pub fn update(
    paths: &Paths,
    name: &str,
    mac: Option<&str>,
    mtu: Option<u32>,
) -> Result<(), NicTagError> {
    let links = host_links()?;
    config::update_tags(&paths.node_config(), |c| {
        plan_update(c, &links, name, mac, mtu)
    })?;
    Ok(())
}

/// Deletes tag `name`, refused while instances use it unless `force`.
/// The check and the write hold the node's lock, so that no create
/// places a NIC on the tag in between. Returns the idle bridges of a
/// deleted etherstub, which are removed.
pub fn delete(paths: &Paths, name: &str, force: bool) -> Result<Vec<String>, NicTagError> {
    let store = Store::new(paths.clone());
    let _node = store.lock_node()?;
    let mut was_etherstub = false;
    let config = config::update_tags(&paths.node_config(), |c| {
        let users = if force { Vec::new() } else { vms(paths, name)? };
        let changes = plan_delete(c, name, &users, force)?;
        was_etherstub = c
            .tags()?
            .iter()
            .any(|t| t.name == name && t.kind == TagKind::Etherstub);
        Ok::<_, NicTagError>(changes)
    })?;
    if !was_etherstub || exists(&config, name) {
        return Ok(Vec::new());
    }
    let mut netlink = Netlink::open()?;
    let links = netlink.links()?;
    let mut removed = Vec::new();
    for bridge in idle_bridges(&links, name) {
        netlink.delete_link(bridge.index)?;
        removed.push(bridge.name.clone());
    }
    Ok(removed)
}

/// The uuids of the instances with a NIC on tag `name`, in `vmadm
/// list`'s default order. An instance whose configuration cannot be read
/// is an error: it may use the tag.
pub fn vms(paths: &Paths, name: &str) -> Result<Vec<String>, NicTagError> {
    let mut users = Vec::new();
    for vm in Store::new(paths.clone()).list()? {
        let mut vm = vm?;
        let on_tag = vm
            .get("nics")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|n| n.get("nic_tag").and_then(Value::as_str) == Some(name));
        if on_tag {
            add_computed_fields(&mut vm);
            users.push(vm);
        }
    }
    sort_vms(
        &mut users,
        &parse_sort(DEFAULT_SORT).expect("the default sort parses"),
    );
    Ok(users
        .iter()
        .filter_map(|vm| vm.get("uuid").and_then(Value::as_str).map(str::to_owned))
        .collect())
}

#[cfg(test)]
mod tests;
