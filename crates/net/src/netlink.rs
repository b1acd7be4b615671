//! A small synchronous rtnetlink client: the links, addresses and routes
//! of one network namespace.
//!
//! One request at a time, each acknowledged before the next, on a socket
//! bound to the namespace it was opened in. A socket for another
//! namespace (a zone's) is opened by a short-lived thread that enters
//! that namespace first: the socket keeps the namespace it was made in,
//! and neither the calling thread nor the process ever changes its own.

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use basalt_model::ids::Mac;
use basalt_model::ip::Cidr;
use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::address::{AddressAttribute, AddressHeaderFlags, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, InfoVlan, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
    RouteVia,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};
use nix::errno::Errno;

/// A netlink request the kernel refused, or a socket that failed.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    /// The kernel answered the request with an error.
    #[error("failed to {what}: {source}")]
    Refused {
        /// The request, in words.
        what: String,
        /// The kernel's errno.
        #[source]
        source: io::Error,
    },
    /// The socket failed, or the kernel's answer could not be read.
    #[error("netlink: failed to {what}: {source}")]
    Socket {
        /// What was being done.
        what: String,
        /// Why it failed.
        #[source]
        source: io::Error,
    },
}

impl NetlinkError {
    /// The errno the kernel answered with, if it answered.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Self::Refused { source, .. } => source.raw_os_error(),
            Self::Socket { .. } => None,
        }
    }
}

fn socket_err(what: &str) -> impl FnOnce(io::Error) -> NetlinkError + '_ {
    move |source| NetlinkError::Socket {
        what: what.to_owned(),
        source,
    }
}

/// A link as a dump reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The interface index.
    pub index: u32,
    /// The name.
    pub name: String,
    /// Its hardware address, for links that have one.
    pub mac: Option<Mac>,
    /// The driver kind (`bridge`, `veth`, `ifb`...), none for a physical
    /// link.
    pub kind: Option<String>,
    /// The index of the bridge it is a port of.
    pub master: Option<u32>,
    /// The MTU.
    pub mtu: u32,
    /// Administratively up.
    pub up: bool,
}

/// An address as a dump reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Address {
    /// The link it is on.
    pub index: u32,
    /// The address and prefix.
    pub cidr: Cidr,
}

/// A connection to the routing subsystem of one network namespace.
pub struct Netlink {
    socket: Socket,
    seq: u32,
}

impl Netlink {
    /// Opens a connection in the calling thread's network namespace.
    pub fn open() -> Result<Self, NetlinkError> {
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(socket_err("open a socket"))?;
        socket.bind_auto().map_err(socket_err("bind the socket"))?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(socket_err("connect the socket"))?;
        socket
            .set_ext_ack(true)
            .map_err(socket_err("ask for extended acks"))?;
        Ok(Self { socket, seq: 0 })
    }

    /// Opens a connection in the network namespace `netns` (a namespace
    /// file descriptor, `/proc/<pid>/ns/net`).
    pub fn open_in(netns: BorrowedFd<'_>) -> Result<Self, NetlinkError> {
        in_netns(netns, Self::open)
    }

    /// Sends one request and collects what the kernel answers until its
    /// acknowledgement (or the end of a dump).
    fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
        what: &dyn Fn() -> String,
    ) -> Result<Vec<RouteNetlinkMessage>, NetlinkError> {
        self.seq = self.seq.wrapping_add(1);
        let mut req = NetlinkMessage::from(msg);
        // Every request but a dump asks for an acknowledgement: it is what
        // ends the answer (a lookup's answer is otherwise open-ended).
        let ack = if flags & NLM_F_DUMP == NLM_F_DUMP {
            0
        } else {
            NLM_F_ACK
        };
        req.header.flags = NLM_F_REQUEST | ack | flags;
        req.header.sequence_number = self.seq;
        req.finalize();
        let mut buf = vec![0u8; req.buffer_len()];
        req.serialize(&mut buf);
        self.socket
            .send(&buf, 0)
            .map_err(socket_err("send a request"))?;
        let mut out = Vec::new();
        loop {
            let (data, _) = self
                .socket
                .recv_from_full()
                .map_err(socket_err("read an answer"))?;
            let mut offset = 0;
            while offset < data.len() {
                let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&data[offset..])
                    .map_err(|e| socket_err("read an answer")(io::Error::other(e.to_string())))?;
                let len = msg.header.length as usize;
                if len == 0 {
                    break;
                }
                offset += len;
                if msg.header.sequence_number != self.seq {
                    continue;
                }
                match msg.payload {
                    NetlinkPayload::InnerMessage(m) => out.push(m),
                    NetlinkPayload::Done(_) => return Ok(out),
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(out),
                            Some(code) => Err(NetlinkError::Refused {
                                what: what(),
                                source: io::Error::from_raw_os_error(-code.get()),
                            }),
                        };
                    }
                    _ => {}
                }
            }
        }
    }

    /// Every link of the namespace.
    pub fn links(&mut self) -> Result<Vec<Link>, NetlinkError> {
        let answers = self.request(
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            NLM_F_DUMP,
            &|| "list the links".into(),
        )?;
        Ok(answers
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(link_of(l)),
                _ => None,
            })
            .collect())
    }

    /// The link called `name`, if there is one.
    pub fn link(&mut self, name: &str) -> Result<Option<Link>, NetlinkError> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_owned()));
        match self.request(RouteNetlinkMessage::GetLink(msg), 0, &|| {
            format!("look up link {name}")
        }) {
            Ok(answers) => Ok(answers.into_iter().find_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(link_of(l)),
                _ => None,
            })),
            Err(e) if e.errno() == Some(Errno::ENODEV as i32) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn new_link(
        &mut self,
        msg: LinkMessage,
        what: &dyn Fn() -> String,
    ) -> Result<(), NetlinkError> {
        self.request(
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_CREATE | NLM_F_EXCL,
            what,
        )
        .map(drop)
    }

    fn set_link(
        &mut self,
        msg: LinkMessage,
        what: &dyn Fn() -> String,
    ) -> Result<(), NetlinkError> {
        self.request(RouteNetlinkMessage::SetLink(msg), 0, what)
            .map(drop)
    }

    /// Makes a bridge.
    pub fn add_bridge(&mut self, name: &str, mtu: u32) -> Result<(), NetlinkError> {
        let mut msg = named(name);
        msg.attributes.push(LinkAttribute::Mtu(mtu));
        msg.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Bridge,
            )]));
        self.new_link(msg, &|| format!("create bridge {name}"))
    }

    /// Makes an intermediate functional block device (for shaping what a
    /// link receives).
    pub fn add_ifb(&mut self, name: &str) -> Result<(), NetlinkError> {
        let mut msg = named(name);
        msg.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Ifb)]));
        self.new_link(msg, &|| format!("create {name}"))
    }

    /// Makes an 802.1Q sub-link of `parent`.
    pub fn add_vlan(&mut self, name: &str, parent: u32, vlan_id: u16) -> Result<(), NetlinkError> {
        let mut msg = named(name);
        msg.attributes.push(LinkAttribute::Link(parent));
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Vlan),
            LinkInfo::Data(InfoData::Vlan(vec![InfoVlan::Id(vlan_id)])),
        ]));
        self.new_link(msg, &|| format!("create VLAN {vlan_id} link {name}"))
    }

    /// Makes a veth pair whose peer is born in `peer_netns` as
    /// `peer_name`, with `peer_mac`; both ends get `mtu`.
    pub fn add_veth(
        &mut self,
        name: &str,
        peer_name: &str,
        peer_mac: Mac,
        mtu: u32,
        peer_netns: BorrowedFd<'_>,
    ) -> Result<(), NetlinkError> {
        let mut peer = named(peer_name);
        peer.attributes
            .push(LinkAttribute::Address(peer_mac.0.to_vec()));
        peer.attributes.push(LinkAttribute::Mtu(mtu));
        peer.attributes
            .push(LinkAttribute::NetNsFd(peer_netns.as_raw_fd()));
        let mut msg = named(name);
        msg.attributes.push(LinkAttribute::Mtu(mtu));
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
        ]));
        self.new_link(msg, &|| format!("create veth pair {name}/{peer_name}"))
    }

    /// Makes `index` a port of the bridge `master`.
    pub fn set_master(&mut self, index: u32, master: u32) -> Result<(), NetlinkError> {
        let mut msg = indexed(index);
        msg.attributes.push(LinkAttribute::Controller(master));
        self.set_link(msg, &|| format!("attach link {index} to bridge {master}"))
    }

    /// Brings a link up.
    pub fn set_up(&mut self, index: u32) -> Result<(), NetlinkError> {
        let mut msg = indexed(index);
        msg.header.flags = LinkFlags::Up;
        msg.header.change_mask = LinkFlags::Up;
        self.set_link(msg, &|| format!("bring link {index} up"))
    }

    /// Deletes a link; a link already gone is not an error.
    pub fn delete_link(&mut self, index: u32) -> Result<(), NetlinkError> {
        let deleted = self.request(RouteNetlinkMessage::DelLink(indexed(index)), 0, &|| {
            format!("delete link {index}")
        });
        already(deleted.map(drop), Errno::ENODEV)
    }

    /// Every address of the namespace.
    pub fn addresses(&mut self) -> Result<Vec<Address>, NetlinkError> {
        let answers = self.request(
            RouteNetlinkMessage::GetAddress(AddressMessage::default()),
            NLM_F_DUMP,
            &|| "list the addresses".into(),
        )?;
        Ok(answers
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewAddress(a) => address_of(&a),
                _ => None,
            })
            .collect())
    }

    /// Adds an address to a link. IPv6 addresses skip duplicate address
    /// detection: the node has already refused duplicates on the same
    /// switch, and the address is usable at once.
    pub fn add_address(&mut self, index: u32, cidr: Cidr) -> Result<(), NetlinkError> {
        let msg = address_message(index, cidr);
        self.request(
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_CREATE | NLM_F_EXCL,
            &|| format!("add address {}/{}", cidr.addr, cidr.prefix),
        )
        .map(drop)
    }

    /// Removes an address from a link; one already gone is not an error.
    pub fn delete_address(&mut self, index: u32, cidr: Cidr) -> Result<(), NetlinkError> {
        let removed = self.request(
            RouteNetlinkMessage::DelAddress(address_message(index, cidr)),
            0,
            &|| format!("remove address {}/{}", cidr.addr, cidr.prefix),
        );
        already(removed.map(drop), Errno::EADDRNOTAVAIL)
    }

    /// Adds a route to `destination` through `gateway` or straight out of
    /// link `index`.
    pub fn add_route(
        &mut self,
        destination: Cidr,
        gateway: Option<IpAddr>,
        index: Option<u32>,
    ) -> Result<(), NetlinkError> {
        let msg = route_message(destination, gateway, index);
        self.request(
            RouteNetlinkMessage::NewRoute(msg),
            NLM_F_CREATE | NLM_F_EXCL,
            &|| route_words("add", destination, gateway),
        )
        .map(drop)
    }

    /// Removes a route; one already gone is not an error.
    pub fn delete_route(
        &mut self,
        destination: Cidr,
        gateway: Option<IpAddr>,
        index: Option<u32>,
    ) -> Result<(), NetlinkError> {
        let msg = route_message(destination, gateway, index);
        let removed = self.request(RouteNetlinkMessage::DelRoute(msg), 0, &|| {
            route_words("remove", destination, gateway)
        });
        already(removed.map(drop), Errno::ESRCH)
    }
}

impl AsFd for Netlink {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

/// Opens the network namespace of the process behind `pidfd`, race-free
/// (a reused pid cannot lead elsewhere): a short-lived thread enters it
/// and opens its own namespace file.
pub fn netns_of_pidfd(pidfd: BorrowedFd<'_>) -> Result<OwnedFd, NetlinkError> {
    in_netns(pidfd, || {
        std::fs::File::open("/proc/thread-self/ns/net")
            .map(OwnedFd::from)
            .map_err(socket_err("open the zone's network namespace"))
    })
}

/// Runs `f` on a short-lived thread that has entered the network
/// namespace of `ns` (a namespace file or a pidfd); the caller's thread
/// keeps its own.
fn in_netns<T: Send>(
    ns: BorrowedFd<'_>,
    f: impl FnOnce() -> Result<T, NetlinkError> + Send,
) -> Result<T, NetlinkError> {
    let ns = ns
        .try_clone_to_owned()
        .map_err(socket_err("duplicate the namespace descriptor"))?;
    let entered = || socket_err("enter the network namespace");
    std::thread::scope(|s| {
        s.spawn(move || {
            nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(|e| entered()(e.into()))?;
            f()
        })
        .join()
        .unwrap_or_else(|_| Err(entered()(io::Error::other("the thread panicked"))))
    })
}

/// `result`, with the kernel's refusal `errno` taken as success: what was
/// asked for is already so (made by someone else, or already gone).
pub fn already(result: Result<(), NetlinkError>, errno: Errno) -> Result<(), NetlinkError> {
    match result {
        Err(e) if e.errno() == Some(errno as i32) => Ok(()),
        r => r,
    }
}

fn named(name: &str) -> LinkMessage {
    let mut msg = LinkMessage::default();
    msg.attributes.push(LinkAttribute::IfName(name.to_owned()));
    msg
}

fn indexed(index: u32) -> LinkMessage {
    let mut msg = LinkMessage::default();
    msg.header.index = index;
    msg
}

fn link_of(l: LinkMessage) -> Link {
    let mut link = Link {
        index: l.header.index,
        name: String::new(),
        mac: None,
        kind: None,
        master: None,
        mtu: 0,
        up: l.header.flags.contains(LinkFlags::Up),
    };
    for attr in l.attributes {
        match attr {
            LinkAttribute::IfName(n) => link.name = n,
            LinkAttribute::Address(a) => {
                link.mac = <[u8; 6]>::try_from(a.as_slice()).ok().map(Mac);
            }
            LinkAttribute::Controller(m) => link.master = Some(m),
            LinkAttribute::Mtu(m) => link.mtu = m,
            LinkAttribute::LinkInfo(infos) => {
                link.kind = infos.into_iter().find_map(|i| match i {
                    LinkInfo::Kind(k) => Some(k.to_string()),
                    _ => None,
                });
            }
            _ => {}
        }
    }
    link
}

fn address_of(a: &AddressMessage) -> Option<Address> {
    let addr = a.attributes.iter().find_map(|attr| match attr {
        AddressAttribute::Local(ip) if a.header.family == AddressFamily::Inet => Some(*ip),
        AddressAttribute::Address(ip) if a.header.family == AddressFamily::Inet6 => Some(*ip),
        _ => None,
    })?;
    Some(Address {
        index: a.header.index,
        cidr: Cidr {
            addr,
            prefix: a.header.prefix_len,
        },
    })
}

fn address_message(index: u32, cidr: Cidr) -> AddressMessage {
    let mut msg = AddressMessage::default();
    msg.header.index = index;
    msg.header.prefix_len = cidr.prefix;
    match cidr.addr {
        IpAddr::V4(v4) => {
            msg.header.family = AddressFamily::Inet;
            msg.attributes.push(AddressAttribute::Local(cidr.addr));
            msg.attributes.push(AddressAttribute::Address(cidr.addr));
            if cidr.prefix < 31 {
                let host_bits = u32::MAX >> cidr.prefix;
                let broadcast = std::net::Ipv4Addr::from(u32::from(v4) | host_bits);
                msg.attributes.push(AddressAttribute::Broadcast(broadcast));
            }
        }
        IpAddr::V6(_) => {
            msg.header.family = AddressFamily::Inet6;
            msg.header.flags = AddressHeaderFlags::Nodad;
            msg.attributes.push(AddressAttribute::Address(cidr.addr));
        }
    }
    msg
}

fn route_message(destination: Cidr, gateway: Option<IpAddr>, index: Option<u32>) -> RouteMessage {
    let mut msg = RouteMessage::default();
    msg.header.table = RouteHeader::RT_TABLE_MAIN;
    msg.header.protocol = RouteProtocol::Static;
    msg.header.kind = RouteType::Unicast;
    msg.header.scope = if gateway.is_some() {
        RouteScope::Universe
    } else {
        RouteScope::Link
    };
    msg.header.destination_prefix_length = destination.prefix;
    msg.header.address_family = match destination.addr {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    };
    if destination.prefix > 0 {
        msg.attributes
            .push(RouteAttribute::Destination(route_address(destination.addr)));
    }
    match (destination.addr, gateway) {
        (IpAddr::V4(_), Some(IpAddr::V6(v6))) => {
            msg.attributes
                .push(RouteAttribute::Via(RouteVia::Inet6(v6)));
        }
        (_, Some(gw)) => msg
            .attributes
            .push(RouteAttribute::Gateway(route_address(gw))),
        (_, None) => {}
    }
    if let Some(index) = index {
        msg.attributes.push(RouteAttribute::Oif(index));
    }
    msg
}

fn route_address(ip: IpAddr) -> RouteAddress {
    match ip {
        IpAddr::V4(v4) => RouteAddress::Inet(v4),
        IpAddr::V6(v6) => RouteAddress::Inet6(v6),
    }
}

fn route_words(verb: &str, destination: Cidr, gateway: Option<IpAddr>) -> String {
    let to = format!("{}/{}", destination.addr, destination.prefix);
    match gateway {
        Some(gw) => format!("{verb} the route to {to} via {gw}"),
        None => format!("{verb} the route to {to}"),
    }
}
