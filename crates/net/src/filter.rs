//! Anti-spoofing: SmartOS's link protections of a VNIC as nftables rules
//! in the bridge family, checked on the host side of the NIC's veth pair
//! where the zone cannot reach them.
//!
//! One table in the host's network namespace holds every NIC's rules:
//!
//! ```text
//! table bridge basalt
//!   map ports { ifname : verdict }     "z17_net0" : jump z17_net0, ...
//!   map local { ifname : verdict }     "z17_net0" : jump not_for_host, ...
//!   chain prerouting                   hook prerouting, priority -200 (filter),
//!     iifname vmap @ports              policy accept
//!   chain input                        hook input: frames for the host itself
//!     iifname vmap @local
//!   chain not_for_host
//!     drop
//!   chain z17_net0                     one per filtered NIC, named after its
//!     ... drop rules                   host port: source MAC, ethertype
//!     meta protocol vmap { ip : jump z17_net0_ip, ip6 : jump z17_net0_ip6,
//!                          arp : jump z17_net0_arp }
//!   chain z17_net0_ip (_ip6, _arp)     that protocol's checks; what passes
//!     ... drop rules                   returns and is accepted
//! ```
//!
//! A zone's switch is not the host's network: what a zone sends to the
//! bridge's own address (the host) is dropped at `input`.
//!
//! A frame entering a bridge from a NIC's host port is looked up once in
//! the map and checked in that port's chain, then in its protocol's; every
//! other frame (from an uplink, from a port without a chain) meets no
//! rule. A NIC's chains only drop: the frames they let through go on to
//! the base chain's policy.
//!
//! Changes are one nft transaction ([`batch`]), applied whole or not at
//! all. Every command in it is idempotent: the table, maps and base
//! chains are (re)declared, a NIC's chains are flushed and refilled (so a
//! live update never leaves the NIC unfiltered), and a removed port's
//! chains and map elements are first added (no-ops when present) and then
//! deleted, so removing what is already gone does not fail the transaction
//! and needs no listing beforehand.
//!
//! The rules are built with the `nftables` crate's schema and sent to the
//! `nft` program's JSON interface ([`Nft`]); nft is run directly rather
//! than through the crate's helper, which does not capture nft's stderr.

use std::borrow::Cow;
use std::ffi::OsString;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::{self, ExitStatus, Stdio};

use basalt_model::ids::Mac;
use basalt_model::ip::Cidr;
use nftables::expr::{
    BinaryOperation, Expression, Meta, MetaKey, NamedExpression, Payload, PayloadBase,
    PayloadField, PayloadRaw, Prefix, SetItem, Verdict,
};
use nftables::schema::{Chain, Element, FlushObject, NfCmd, NfListObject, NfObject, Rule, Table};
use nftables::stmt::{JumpTarget, Match, Operator, Statement, VerdictMap};
use nftables::types::{NfChainPolicy, NfChainType, NfFamily, NfHook};
use serde::Serialize;

use crate::spec::Nic;

/// The table every NIC's rules live in (family `bridge`).
pub const TABLE: &str = "basalt";
/// The verdict map from a host port's name to a jump to its chain.
pub const PORTS_MAP: &str = "ports";
/// The base chain that looks frames up in [`PORTS_MAP`].
pub const BASE_CHAIN: &str = "prerouting";
/// The map from a port to the verdict on frames it sends to the host.
pub const LOCAL_MAP: &str = "local";
/// The chain of frames delivered to the host from a bridge.
pub const INPUT_CHAIN: &str = "input";
/// The chain that drops what a zone sends to the host.
pub const NOT_FOR_HOST: &str = "not_for_host";
/// The base chain's priority: the bridge family's `filter`.
pub const PRIORITY: i32 = -200;

/// A statement list of one rule.
type Stmts = Vec<Statement<'static>>;
/// One nft expression.
type Expr = Expression<'static>;

/// The rules of one NIC, by chain. The NIC's own chain holds what every
/// frame meets — its source MAC, its ethertype — and then one lookup on
/// the frame's protocol that jumps to the protocol's chain, so that a
/// frame meets only its own protocol's checks. Each rule is a list of
/// matches ending in `drop` (or in `return`, which ends the chain early
/// for traffic known to be good). Pure: the same NIC always gives the
/// same rules.
///
/// - `mac` (mac-nospoof): source MAC other than the NIC's dropped.
/// - `restricted`: ethertypes other than IPv4, IPv6 and ARP dropped;
///   else, when any other check applies, VLAN-tagged frames are dropped,
///   as a tag would hide the frame from its protocol's checks.
/// - `blocked_outgoing_ports` (always): TCP and UDP to those ports dropped.
/// - `dhcp` (dhcp-nospoof): IPv4 UDP from port 67 and IPv6 UDP from port
///   547 (DHCP servers) dropped.
/// - `ip` (ip-nospoof): IPv4 from outside the static addresses (each
///   alone: the prefix of `ips` is the subnet, not an allowance) and
///   `allowed_ips` dropped, all IPv4 when those are empty. A DHCP NIC's
///   leased address is not known on the host, so its IPv4 and ARP
///   sources are not checked, except that `0.0.0.0` may only send DHCP
///   requests. IPv6 router advertisements and redirects, and IPv6 from
///   outside the static addresses, `allowed_ips`, the MAC's link-local
///   address and `::` (duplicate address detection) dropped; with
///   `addrconf`, any address with the MAC's interface identifier (SLAAC)
///   is let through too.
/// - ARP whose sender hardware address is not the NIC's (`mac`) or whose
///   sender address is outside the IPv4 sources or `0.0.0.0` (probes)
///   (`ip`) dropped, and, when either is checked, ARP not for Ethernet and
///   IPv4, whose fields would not be where the checks look.
pub fn nic_chains(nic: &Nic) -> NicChains {
    let p = nic.protection;
    let arp_mac = p.mac;
    let arp_ip = ipv4_sources(nic);
    let checks_arp = arp_mac || arp_ip.is_some();
    let mut chains = NicChains::default();
    if p.mac {
        chains
            .main
            .push(drops([ne(field("ether", "saddr"), text(nic.mac))]));
    }
    if p.restricted {
        let types = ["ip", "ip6", "arp"].map(text);
        chains
            .main
            .push(drops([ne(field("ether", "type"), set(types))]));
    }
    if let Some(rule) = blocked_ports_rule(&nic.blocked_outgoing_ports) {
        chains.ip.push(rule.clone());
        chains.ip6.push(rule);
    }
    if p.dhcp {
        chains.ip.push(dhcp_server_rule("udp", 67));
        chains.ip6.push(dhcp_server_rule("udp", 547));
    }
    if p.ip {
        chains.ip.extend(ipv4_rules(nic, arp_ip.as_deref()));
        chains.ip6.extend(ipv6_rules(nic));
    }
    if checks_arp {
        chains
            .arp
            .extend(arp_rules(nic.mac, arp_mac, arp_ip.as_deref()));
    }
    if !p.restricted && chains.by_protocol().iter().any(|r| !r.is_empty()) {
        // A frame still tagged when it reaches the filter (tagged twice,
        // or a tag the kernel left in the frame) would meet none of its
        // protocol's checks: it is dropped, unless every ethertype is.
        let tags = ["8021q", "8021ad"].map(text);
        chains
            .main
            .push(drops([eq(field("ether", "type"), set(tags.clone()))]));
        chains
            .main
            .push(drops([eq(meta(MetaKey::Protocol), set(tags))]));
    }
    chains
}

/// One NIC's rules: its own chain's, and those of its protocol chains
/// (the chain's name and a suffix), which its own chain jumps to by the
/// frame's protocol.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NicChains {
    /// What every frame from the NIC meets first.
    pub main: Vec<Stmts>,
    /// IPv4's checks (`<port>_ip`).
    pub ip: Vec<Stmts>,
    /// IPv6's checks (`<port>_ip6`).
    pub ip6: Vec<Stmts>,
    /// ARP's checks (`<port>_arp`).
    pub arp: Vec<Stmts>,
}

/// The suffixes of a port's protocol chains, with the protocols whose
/// frames jump to them.
pub const PROTOCOL_CHAINS: [(&str, &str); 3] = [("ip", "_ip"), ("ip6", "_ip6"), ("arp", "_arp")];

impl NicChains {
    /// The protocol chains' rules, in [`PROTOCOL_CHAINS`]' order.
    fn by_protocol(&self) -> [&Vec<Stmts>; 3] {
        [&self.ip, &self.ip6, &self.arp]
    }

    /// The NIC's own chain whole: its rules, then the jump to the
    /// protocol chains that have rules.
    pub fn main_rules(&self, port: &str) -> Vec<Stmts> {
        let mut rules = self.main.clone();
        let jumps: Vec<SetItem<'static>> = PROTOCOL_CHAINS
            .iter()
            .zip(self.by_protocol())
            .filter(|(_, rules)| !rules.is_empty())
            .map(|((proto, suffix), _)| {
                let target = JumpTarget {
                    target: format!("{port}{suffix}").into(),
                };
                SetItem::Mapping(text(*proto), Expression::Verdict(Verdict::Jump(target)))
            })
            .collect();
        if !jumps.is_empty() {
            rules.push(vec![Statement::VerdictMap(VerdictMap {
                key: meta(MetaKey::Protocol),
                data: Expression::Named(NamedExpression::Set(jumps)),
            })]);
        }
        rules
    }
}

/// TCP and UDP to `ports` dropped; none when there are none.
fn blocked_ports_rule(ports: &[u16]) -> Option<Stmts> {
    let mut ports = ports.to_vec();
    ports.sort_unstable();
    ports.dedup();
    if ports.is_empty() {
        return None;
    }
    let numbers = ports.into_iter().map(|p| Expression::Number(p.into()));
    Some(drops([
        eq(meta(MetaKey::L4proto), set(["tcp", "udp"].map(text))),
        eq(field("th", "dport"), set(numbers)),
    ]))
}

/// DHCP server replies dropped: UDP from `port` (67 for IPv4, 547 for
/// IPv6), in that protocol's chain.
fn dhcp_server_rule(l4: &'static str, port: u32) -> Stmts {
    drops([eq(field(l4, "sport"), Expression::Number(port))])
}

/// The IPv4 source check; `sources` as [`ipv4_sources`] gives them.
fn ipv4_rules(nic: &Nic, sources: Option<&[Cidr]>) -> Vec<Stmts> {
    let saddr = || field("ip", "saddr");
    match sources {
        None if nic.dhcp => {
            let unspecified = || eq(saddr(), text(Ipv4Addr::UNSPECIFIED));
            vec![
                vec![
                    unspecified(),
                    eq(field("udp", "sport"), Expression::Number(68)),
                    eq(field("udp", "dport"), Expression::Number(67)),
                    Statement::Return(None),
                ],
                drops([unspecified()]),
            ]
        }
        None => Vec::new(),
        Some([]) => vec![drops([eq(meta(MetaKey::Protocol), text("ip"))])],
        Some(blocks) => vec![drops([ne(saddr(), block_set(blocks))])],
    }
}

/// The IPv6 source check, with the SLAAC shortcut under `addrconf`.
fn ipv6_rules(nic: &Nic) -> Vec<Stmts> {
    let saddr = || field("ip6", "saddr");
    // Router advertisements (134) and redirects (137) are a router's to
    // send: a zone that may not spoof addresses may not pose as its
    // network's router. Matched on the transport header's first byte, as
    // `icmpv6 type` would also require an untagged frame's ethertype.
    let icmp_type = Expression::Named(NamedExpression::Payload(Payload::PayloadRaw(PayloadRaw {
        base: PayloadBase::TH,
        offset: 0,
        len: 8,
    })));
    let router = set([134, 137].map(Expression::Number));
    let mut rules = vec![drops([
        eq(meta(MetaKey::L4proto), text("ipv6-icmp")),
        eq(icmp_type, router),
    ])];
    if nic.addrconf {
        let low64 = Ipv6Addr::from(u128::from(u64::MAX));
        let iid = Ipv6Addr::from(u128::from(interface_id(nic.mac)));
        let masked = BinaryOperation::AND(saddr(), text(low64));
        rules.push(vec![
            eq(Expression::BinaryOperation(Box::new(masked)), text(iid)),
            Statement::Return(None),
        ]);
    }
    let blocks = ipv6_sources(nic);
    if !is_everything(&blocks) {
        rules.push(drops([ne(saddr(), block_set(&blocks))]));
    }
    rules
}

/// The ARP checks: Ethernet/IPv4 only, then the sender's hardware address
/// (`mac`) and address (`sources` plus `0.0.0.0`).
fn arp_rules(mac: Mac, check_mac: bool, sources: Option<&[Cidr]>) -> Vec<Stmts> {
    let format = concat(["htype", "ptype", "hlen", "plen"].map(|f| field("arp", f)));
    let ethernet_ipv4 = concat([
        Expression::Number(1),
        text("ip"),
        Expression::Number(6),
        Expression::Number(4),
    ]);
    let mut rules = vec![drops([ne(format, set([ethernet_ipv4]))])];
    if check_mac {
        rules.push(drops([ne(field("arp", "saddr ether"), text(mac))]));
    }
    if let Some(sources) = sources {
        let probe = Cidr {
            addr: Ipv4Addr::UNSPECIFIED.into(),
            prefix: 32,
        };
        let blocks = disjoint(sources.iter().copied().chain([probe]));
        if !is_everything(&blocks) {
            rules.push(drops([ne(field("arp", "saddr ip"), block_set(&blocks))]));
        }
    }
    rules
}

/// The IPv4 blocks `nic` may send from when ip-nospoof checks them: each
/// static address alone and `allowed_ips` as given. `None` when IPv4
/// sources are not checked (protection off, a DHCP NIC, or every address
/// allowed); an empty list allows none.
fn ipv4_sources(nic: &Nic) -> Option<Vec<Cidr>> {
    if !nic.protection.ip || nic.dhcp {
        return None;
    }
    let blocks = sources(nic, |a| a.is_ipv4());
    (!is_everything(&blocks)).then_some(blocks)
}

/// The IPv6 blocks `nic` may send from: each static address alone,
/// `allowed_ips`, the MAC's link-local address and `::`.
fn ipv6_sources(nic: &Nic) -> Vec<Cidr> {
    let extra = [link_local(nic.mac), Ipv6Addr::UNSPECIFIED].map(|a| Cidr {
        addr: a.into(),
        prefix: 128,
    });
    let mut blocks = sources(nic, |a| a.is_ipv6());
    blocks.extend(extra);
    disjoint(blocks)
}

/// The static addresses (as hosts) and `allowed_ips` of one family.
fn sources(nic: &Nic, family: impl Fn(&IpAddr) -> bool) -> Vec<Cidr> {
    let statics = nic.ips.iter().map(|c| Cidr {
        addr: c.addr,
        prefix: full_len(c.addr),
    });
    let allowed = nic.allowed_ips.iter().copied();
    disjoint(statics.chain(allowed).filter(|c| family(&c.addr)))
}

/// The interface identifier SLAAC derives from a MAC (modified EUI-64):
/// the universal/local bit flipped and `ff:fe` between the halves.
pub fn interface_id(mac: Mac) -> u64 {
    let [a, b, c, d, e, f] = mac.0;
    u64::from_be_bytes([a ^ 0x02, b, c, 0xff, 0xfe, d, e, f])
}

/// The link-local address a MAC's interface takes: `fe80::/64` and the
/// MAC's interface identifier.
pub fn link_local(mac: Mac) -> Ipv6Addr {
    Ipv6Addr::from((0xfe80u128 << 112) | u128::from(interface_id(mac)))
}

/// The blocks with host bits cleared, duplicates and blocks inside others
/// left out (nft refuses overlapping intervals in a set), in address
/// order.
fn disjoint(blocks: impl IntoIterator<Item = Cidr>) -> Vec<Cidr> {
    let mut all: Vec<Cidr> = blocks.into_iter().map(masked).collect();
    all.sort_by_key(|c| (c.prefix, c.addr));
    let mut kept: Vec<Cidr> = Vec::new();
    for block in all {
        if !kept.iter().any(|k| contains(*k, block)) {
            kept.push(block);
        }
    }
    kept.sort_by_key(|c| (c.addr, c.prefix));
    kept
}

/// Whether one of the (disjoint) blocks is the whole address space.
fn is_everything(blocks: &[Cidr]) -> bool {
    blocks.iter().any(|b| b.prefix == 0)
}

/// The bits of an address, left-aligned in 128, and its length.
fn bits(addr: IpAddr) -> (u128, u8) {
    match addr {
        IpAddr::V4(a) => (u128::from(u32::from(a)) << 96, 32),
        IpAddr::V6(a) => (u128::from(a), 128),
    }
}

fn full_len(addr: IpAddr) -> u8 {
    bits(addr).1
}

/// `block` with the bits past its prefix cleared.
fn masked(block: Cidr) -> Cidr {
    let (value, len) = bits(block.addr);
    let prefix = block.prefix.min(len);
    let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
    let value = value & mask;
    let addr = match block.addr {
        // The address sits in the top 32 bits: the cast keeps them.
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from((value >> 96) as u32)),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(value)),
    };
    Cidr { addr, prefix }
}

/// Whether the (masked) block `inner` lies within the (masked) block
/// `outer`; a block of the other family never does.
fn contains(outer: Cidr, inner: Cidr) -> bool {
    outer.addr.is_ipv4() == inner.addr.is_ipv4()
        && outer.prefix <= inner.prefix
        && masked(Cidr {
            addr: inner.addr,
            prefix: outer.prefix,
        })
        .addr
            == outer.addr
}

/// An anonymous set of address blocks: hosts as addresses, the rest as
/// prefixes (nft makes it an interval set).
fn block_set(blocks: &[Cidr]) -> Expr {
    set(blocks.iter().map(|b| {
        if b.prefix == full_len(b.addr) {
            text(b.addr)
        } else {
            Expression::Named(NamedExpression::Prefix(Prefix {
                addr: Box::new(text(b.addr)),
                len: b.prefix.into(),
            }))
        }
    }))
}

fn field(protocol: &'static str, name: &'static str) -> Expr {
    Expression::Named(NamedExpression::Payload(Payload::PayloadField(
        PayloadField {
            protocol: protocol.into(),
            field: name.into(),
        },
    )))
}

fn meta(key: MetaKey) -> Expr {
    Expression::Named(NamedExpression::Meta(Meta { key }))
}

fn text(value: impl ToString) -> Expr {
    Expression::String(Cow::Owned(value.to_string()))
}

fn set(items: impl IntoIterator<Item = Expr>) -> Expr {
    let items = items.into_iter().map(SetItem::Element).collect();
    Expression::Named(NamedExpression::Set(items))
}

fn concat(items: impl IntoIterator<Item = Expr>) -> Expr {
    Expression::Named(NamedExpression::Concat(items.into_iter().collect()))
}

fn eq(left: Expr, right: Expr) -> Statement<'static> {
    compare(left, Operator::EQ, right)
}

fn ne(left: Expr, right: Expr) -> Statement<'static> {
    compare(left, Operator::NEQ, right)
}

fn compare(left: Expr, op: Operator, right: Expr) -> Statement<'static> {
    Statement::Match(Match { left, right, op })
}

/// A rule that drops what `matches` match.
fn drops<const N: usize>(matches: [Statement<'static>; N]) -> Stmts {
    let mut rule = Vec::from(matches);
    rule.push(Statement::Drop(None));
    rule
}

fn chain(name: &str) -> Chain<'static> {
    Chain {
        family: NfFamily::Bridge,
        table: TABLE.into(),
        name: name.to_owned().into(),
        ..Chain::default()
    }
}

fn add(object: NfListObject<'static>) -> NfObject<'static> {
    NfObject::CmdObject(NfCmd::Add(object))
}

fn flush_chain(name: &str) -> NfObject<'static> {
    NfObject::CmdObject(NfCmd::Flush(FlushObject::Chain(chain(name))))
}

fn rule(chain: &str, expr: Stmts) -> NfObject<'static> {
    add(NfListObject::Rule(Rule {
        family: NfFamily::Bridge,
        table: TABLE.into(),
        chain: chain.to_owned().into(),
        expr: expr.into(),
        ..Rule::default()
    }))
}

/// `port`'s element in [`PORTS_MAP`]: with its jump, or (`jump` false)
/// the key alone, as a deletion names it.
fn port_element(port: &str, jump: bool) -> NfListObject<'static> {
    let target = JumpTarget {
        target: port.to_owned().into(),
    };
    map_element(PORTS_MAP, port, jump.then_some(Verdict::Jump(target)))
}

fn local_element(port: &str, with_verdict: bool) -> NfListObject<'static> {
    // nft's JSON takes no plain verdict as a map's data: a jump to a chain
    // that drops.
    let target = JumpTarget {
        target: NOT_FOR_HOST.into(),
    };
    map_element(
        LOCAL_MAP,
        port,
        with_verdict.then_some(Verdict::Jump(target)),
    )
}

/// An element of one of the table's maps, keyed by a port; with its
/// verdict to add it, without to delete it.
fn map_element(map: &str, port: &str, verdict: Option<Verdict<'static>>) -> NfListObject<'static> {
    let key = text(port);
    let elem = match verdict {
        Some(v) => Expression::List(vec![key, Expression::Verdict(v)]),
        None => key,
    };
    NfListObject::Element(Element {
        family: NfFamily::Bridge,
        table: TABLE.into(),
        name: map.to_owned().into(),
        elem: vec![elem].into(),
    })
}

/// The chains of `port`: its own first, then its protocol chains.
fn port_chains(port: &str) -> Vec<String> {
    let mut names = vec![port.to_owned()];
    names.extend(
        PROTOCOL_CHAINS
            .iter()
            .map(|(_, suffix)| format!("{port}{suffix}")),
    );
    names
}

/// The commands that (re)make `port`'s chains from `nic`: each chain added
/// (a no-op when present) and flushed, the protocol chains' rules added,
/// then the port's own, and its elements added to [`PORTS_MAP`] and
/// [`LOCAL_MAP`] (no-ops when present). Needs the table and maps (see
/// [`batch`]).
pub fn nic_chain(port: &str, nic: &Nic) -> Vec<NfObject<'static>> {
    let chains = nic_chains(nic);
    let names = port_chains(port);
    let mut objects: Vec<NfObject<'static>> = names
        .iter()
        .flat_map(|n| [add(NfListObject::Chain(chain(n))), flush_chain(n)])
        .collect();
    for (name, rules) in names[1..].iter().zip(chains.by_protocol()) {
        objects.extend(rules.iter().map(|r| rule(name, r.clone())));
    }
    objects.extend(chains.main_rules(port).into_iter().map(|r| rule(port, r)));
    objects.push(add(port_element(port, true)));
    objects.push(add(local_element(port, true)));
    objects
}

/// The commands that remove `port`'s chains and map elements, whether or
/// not they exist: all are added first (no-ops when present), the chains
/// flushed, then the elements and the chains deleted (the port's own,
/// which jumps to the others, first).
pub fn remove_port(port: &str) -> Vec<NfObject<'static>> {
    let names = port_chains(port);
    let mut objects: Vec<NfObject<'static>> = names
        .iter()
        .flat_map(|n| [add(NfListObject::Chain(chain(n))), flush_chain(n)])
        .collect();
    objects.extend([
        add(port_element(port, true)),
        add(local_element(port, true)),
        NfObject::CmdObject(NfCmd::Delete(port_element(port, false))),
        NfObject::CmdObject(NfCmd::Delete(local_element(port, false))),
    ]);
    objects.extend(
        names
            .iter()
            .map(|n| NfObject::CmdObject(NfCmd::Delete(NfListObject::Chain(chain(n))))),
    );
    objects
}

/// The commands that make sure the table, map and base chain exist, with
/// the base chain's one rule in place exactly once.
fn prelude() -> Vec<Command> {
    let table = Table {
        family: NfFamily::Bridge,
        name: TABLE.into(),
        handle: None,
    };
    // The schema crate has no type for a map to verdicts.
    let map = serde_json::json!({"add": {"map": {
        "family": "bridge", "table": TABLE, "name": PORTS_MAP,
        "type": "ifname", "map": "verdict",
    }}});
    let base = Chain {
        _type: Some(NfChainType::Filter),
        hook: Some(NfHook::Prerouting),
        prio: Some(PRIORITY),
        policy: Some(NfChainPolicy::Accept),
        ..chain(BASE_CHAIN)
    };
    let local = serde_json::json!({"add": {"map": {
        "family": "bridge", "table": TABLE, "name": LOCAL_MAP,
        "type": "ifname", "map": "verdict",
    }}});
    let input = Chain {
        _type: Some(NfChainType::Filter),
        hook: Some(NfHook::Input),
        prio: Some(PRIORITY),
        policy: Some(NfChainPolicy::Accept),
        ..chain(INPUT_CHAIN)
    };
    let lookup = |map: &str| {
        Statement::VerdictMap(VerdictMap {
            key: meta(MetaKey::Iifname),
            data: text(format!("@{map}")),
        })
    };
    vec![
        Command::Nft(add(NfListObject::Table(table))),
        Command::Raw(map),
        Command::Raw(local),
        Command::Nft(add(NfListObject::Chain(base))),
        Command::Nft(flush_chain(BASE_CHAIN)),
        Command::Nft(rule(BASE_CHAIN, vec![lookup(PORTS_MAP)])),
        Command::Nft(add(NfListObject::Chain(chain(NOT_FOR_HOST)))),
        Command::Nft(flush_chain(NOT_FOR_HOST)),
        Command::Nft(rule(NOT_FOR_HOST, vec![Statement::Drop(None)])),
        Command::Nft(add(NfListObject::Chain(input))),
        Command::Nft(flush_chain(INPUT_CHAIN)),
        Command::Nft(rule(INPUT_CHAIN, vec![lookup(LOCAL_MAP)])),
    ]
}

/// One nft transaction: applied whole or not at all.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Batch {
    #[serde(rename = "nftables")]
    commands: Vec<Command>,
}

/// One command of a [`Batch`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
enum Command {
    Nft(NfObject<'static>),
    Raw(serde_json::Value),
}

impl Batch {
    /// The transaction as nft's JSON input.
    pub fn to_json(&self) -> String {
        // Plain structs, strings and numbers: serialising cannot fail.
        serde_json::to_string(self).expect("an nft batch serialises to JSON")
    }
}

/// One transaction that makes sure the table, map and base chain exist,
/// removes the chains and map elements of `remove` (those already absent
/// included), and then (re)makes the chains of `add` from their NICs.
/// Idempotent: applying it twice gives the same ruleset.
pub fn batch(add: &[(String, &Nic)], remove: &[String]) -> Batch {
    let mut commands = prelude();
    let removals = remove.iter().flat_map(|port| remove_port(port));
    let additions = add.iter().flat_map(|(port, nic)| nic_chain(port, nic));
    commands.extend(removals.chain(additions).map(Command::Nft));
    Batch { commands }
}

/// The ports with a chain in the table, from the JSON of `nft -j list
/// chains bridge` (chains of other tables ignored).
pub fn parse_ports(listing: &str) -> Result<Vec<String>, serde_json::Error> {
    let doc: serde_json::Value = serde_json::from_str(listing)?;
    let objects = doc.get("nftables").and_then(|o| o.as_array());
    let chains = objects.into_iter().flatten().filter_map(|o| o.get("chain"));
    let ours = chains.filter(|c| c["family"] == "bridge" && c["table"] == TABLE);
    let names = ours.filter_map(|c| c["name"].as_str());
    let mut ports: Vec<String> = names
        .filter(|n| ![BASE_CHAIN, INPUT_CHAIN, NOT_FOR_HOST].contains(n))
        .map(|n| {
            // A protocol chain names its port (ports, `z<n>_<interface>`,
            // never end in a protocol's suffix).
            let port = PROTOCOL_CHAINS
                .iter()
                .find_map(|(_, suffix)| n.strip_suffix(suffix));
            port.unwrap_or(n).to_owned()
        })
        .collect();
    ports.sort();
    ports.dedup();
    Ok(ports)
}

/// A failure to change or read the anti-spoofing rules.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    /// nft could not be started, or its input not written to it.
    #[error("failed to run `{argv}`")]
    Spawn {
        /// The command line.
        argv: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// nft refused (a refused transaction changes nothing).
    #[error("failed to {action}: `{argv}` failed ({status}): {stderr}")]
    Nft {
        /// What was being done.
        action: &'static str,
        /// The command line.
        argv: String,
        /// How nft exited.
        status: ExitStatus,
        /// What nft said.
        stderr: String,
    },
    /// nft's listing was not the JSON expected.
    #[error("failed to read the chains `{argv}` listed")]
    Listing {
        /// The command line.
        argv: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
}

/// How nft is started: `nft` from `PATH` by default, or behind a launcher
/// such as `ip netns exec NS nft` to act in another network namespace.
#[derive(Debug, Clone)]
pub struct Nft {
    argv: Vec<OsString>,
}

impl Default for Nft {
    fn default() -> Self {
        Nft {
            argv: vec!["nft".into()],
        }
    }
}

impl Nft {
    /// Runs nft as `argv` (program first), nft's own arguments after it.
    /// An empty `argv` is plain `nft`.
    pub fn with_argv<S: Into<OsString>>(argv: impl IntoIterator<Item = S>) -> Nft {
        let argv: Vec<OsString> = argv.into_iter().map(Into::into).collect();
        if argv.is_empty() {
            Nft::default()
        } else {
            Nft { argv }
        }
    }

    /// Applies `batch` as one transaction.
    pub fn apply(&self, batch: &Batch) -> Result<(), FilterError> {
        let json = batch.to_json();
        let action = "apply the anti-spoofing rules";
        self.run(&["-j", "-f", "-"], Some(&json), action)
            .map(|_| ())
    }

    /// The ports that have a chain (and map element) in the table.
    pub fn current_ports(&self) -> Result<Vec<String>, FilterError> {
        let args = ["-j", "list", "chains", "bridge"];
        let listing = self.run(&args, None, "list the anti-spoofing chains")?;
        parse_ports(&listing).map_err(|source| FilterError::Listing {
            argv: self.command_line(&args),
            source,
        })
    }

    /// Removes every port whose name starts with `prefix` (an instance's
    /// ports: [`crate::names::instance_prefix`]); returns those removed.
    /// Runs no transaction when there are none.
    pub fn remove_prefix(&self, prefix: &str) -> Result<Vec<String>, FilterError> {
        let ports: Vec<String> = self
            .current_ports()?
            .into_iter()
            .filter(|p| p.starts_with(prefix))
            .collect();
        if !ports.is_empty() {
            self.apply(&batch(&[], &ports))?;
        }
        Ok(ports)
    }

    /// Runs nft with `args`, feeding it `input`; its stdout on success.
    fn run(
        &self,
        args: &[&str],
        input: Option<&str>,
        action: &'static str,
    ) -> Result<String, FilterError> {
        let spawn_error = |source| FilterError::Spawn {
            argv: self.command_line(args),
            source,
        };
        let mut child = process::Command::new(&self.argv[0])
            .args(&self.argv[1..])
            .args(args)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn_error)?;
        // nft reads all of its input before it writes anything. A failed
        // write is reported after nft's own complaint, if it has one.
        let written = match (input, child.stdin.take()) {
            (Some(input), Some(mut stdin)) => stdin.write_all(input.as_bytes()),
            _ => Ok(()),
        };
        let output = child.wait_with_output().map_err(spawn_error)?;
        if !output.status.success() {
            return Err(FilterError::Nft {
                action,
                argv: self.command_line(args),
                status: output.status,
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            });
        }
        written.map_err(spawn_error)?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    fn command_line(&self, args: &[&str]) -> String {
        let program = self.argv.iter().map(|a| a.to_string_lossy().into_owned());
        let words: Vec<String> = program
            .chain(args.iter().map(|a| (*a).to_owned()))
            .collect();
        words.join(" ")
    }
}

/// Applies `batch` with `nft` from `PATH` ([`Nft::apply`]).
pub fn apply(batch: &Batch) -> Result<(), FilterError> {
    Nft::default().apply(batch)
}

/// Applies [`batch`]`(add, remove)` with `nft` from `PATH`; runs nothing
/// when both are empty.
pub fn apply_changes(add: &[(String, &Nic)], remove: &[String]) -> Result<(), FilterError> {
    if add.is_empty() && remove.is_empty() {
        return Ok(());
    }
    apply(&batch(add, remove))
}

/// The ports with a chain, with `nft` from `PATH` ([`Nft::current_ports`]).
pub fn current_ports() -> Result<Vec<String>, FilterError> {
    Nft::default().current_ports()
}

/// Removes the ports starting with `prefix`, with `nft` from `PATH`
/// ([`Nft::remove_prefix`]).
pub fn remove_prefix(prefix: &str) -> Result<Vec<String>, FilterError> {
    Nft::default().remove_prefix(prefix)
}

#[cfg(test)]
mod tests;
