#!/usr/bin/env python3
"""Crafted Ethernet frames for the anti-spoofing host test (tests/filter.rs).

Both commands serve one request per line of stdin until its end, after
printing "ready" (one process per test, as starting Python is slow):

    frames.py send IFACE   a line: a JSON list of frames, sent on IFACE;
                           answers "sent"
    frames.py recv IFACE   a line: "END SECS"; answers with a JSON list of
                           the markers of the frames seen on IFACE since the
                           last request, up to the frame marked END (and a
                           short grace for stragglers) or SECS seconds

A frame is an object with:

    marker   text put in the payload as "BT-MARK:<marker>;"
    kind     "ipv4" | "ipv6" | "arp" | "raw"
    src      source MAC;  dst: destination MAC (default broadcast)
    vlan     802.1Q VLAN id to tag the frame with (optional)
    ipv4     saddr, daddr, proto ("udp" | "tcp"), sport, dport
    ipv6     saddr, daddr, sport, dport (UDP)
    arp      sha, spa, tpa; ptype (default 0x0800)
    raw      ethertype

Checksums of UDP and TCP are left zero: nothing between the two ends
verifies them.
"""

import ipaddress
import json
import re
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
MARK = re.compile(rb"BT-MARK:([A-Za-z0-9_.-]+);")
PROTOS = {"udp": 17, "tcp": 6}


def mac(text):
    return bytes(int(part, 16) for part in text.split(":"))


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def transport(f, payload):
    if f.get("proto", "udp") == "tcp":
        # A SYN with a 20-byte header.
        return struct.pack("!HHIIBBHHH", f["sport"], f["dport"], 1, 0, 5 << 4, 0x02, 8192, 0, 0) + payload
    return struct.pack("!HHHH", f["sport"], f["dport"], 8 + len(payload), 0) + payload


def ipv4(f, payload):
    body = transport(f, payload)
    src = ipaddress.IPv4Address(f["saddr"]).packed
    dst = ipaddress.IPv4Address(f["daddr"]).packed
    proto = PROTOS[f.get("proto", "udp")]
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 1, 0, 64, proto, 0, src, dst)
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return 0x0800, header + body


def ipv6(f, payload):
    body = transport(f, payload)
    src = ipaddress.IPv6Address(f["saddr"]).packed
    dst = ipaddress.IPv6Address(f["daddr"]).packed
    header = struct.pack("!IHBB16s16s", 6 << 28, len(body), 17, 64, src, dst)
    return 0x86DD, header + body


def arp(f, payload):
    ptype = f.get("ptype", 0x0800)
    body = struct.pack(
        "!HHBBH6s4s6s4s",
        1,
        ptype,
        6,
        4,
        1,
        mac(f["sha"]),
        ipaddress.IPv4Address(f["spa"]).packed,
        b"\0" * 6,
        ipaddress.IPv4Address(f["tpa"]).packed,
    )
    # The marker rides in the trailer after the ARP body.
    return 0x0806, body + payload


def raw(f, payload):
    return f["ethertype"], payload


def frame(f):
    payload = b"BT-MARK:" + f["marker"].encode() + b";" + b"\0" * 16
    ethertype, body = {"ipv4": ipv4, "ipv6": ipv6, "arp": arp, "raw": raw}[f["kind"]](f, payload)
    header = mac(f.get("dst", "ff:ff:ff:ff:ff:ff")) + mac(f["src"])
    if "vlan" in f:
        header += struct.pack("!HH", 0x8100, f["vlan"])
    return header + struct.pack("!H", ethertype) + body


def send(iface):
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
        s.bind((iface, 0))
        print("ready", flush=True)
        for line in sys.stdin:
            for f in json.loads(line):
                s.send(frame(f))
            print("sent", flush=True)


def collect(s, end, seconds):
    """The markers seen until `end` (and a grace for stragglers) or `seconds`."""
    seen = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        s.settimeout(left)
        try:
            data, (_, _, pkttype, _, _) = s.recvfrom(65535)
        except socket.timeout:
            break
        if pkttype == socket.PACKET_OUTGOING:
            continue
        for marker in MARK.findall(data):
            marker = marker.decode()
            if marker not in seen:
                seen.append(marker)
            if marker == end:
                deadline = min(deadline, time.monotonic() + 0.1)
    return seen


def recv(iface):
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL)) as s:
        s.bind((iface, 0))
        print("ready", flush=True)
        for line in sys.stdin:
            end, seconds = line.split()
            print(json.dumps(collect(s, end, float(seconds))), flush=True)


def main():
    commands = {"send": send, "recv": recv}
    if len(sys.argv) != 3 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](sys.argv[2])


if __name__ == "__main__":
    main()
