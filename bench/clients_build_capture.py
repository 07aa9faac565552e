#!/usr/bin/env python3
"""Builds the `smb1scan clients` benchmark capture: every pcap of ../shared/captures repeated
until the file reaches the wanted size, each repetition with its own IPv4 addresses
(10.R1.R2.N: R1.R2 = repetition number, N = the address's index in the set), so each repetition is
a new set of (server, client) pairs. Linux cooked (SLL) frames are rewritten as Ethernet. The
packets are otherwise byte for byte the originals. Writes one Ethernet pcap.

usage: clients_build_capture.py CAPTURES_DIR OUT.pcap SIZE_BYTES
"""
import os
import struct
import sys


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    off, out = 24, []
    while off + 16 <= len(data):
        ts_s, ts_u, incl, orig = struct.unpack(endian + "IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if linktype == 113:  # SLL -> Ethernet
            frame = b"\x00" * 12 + frame[14:16] + frame[16:]
        elif linktype != 1:
            continue
        out.append((ts_s, ts_u, frame, orig - incl))
    return out


def main():
    src, dst, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    packets = []
    for name in sorted(os.listdir(src)):
        if name.endswith(".pcap"):
            packets.extend(read_pcap(os.path.join(src, name)))
    addrs = {}
    for _, _, fr, _ in packets:
        if fr[12:14] == b"\x08\x00" and len(fr) >= 34:
            for a in (fr[26:30], fr[30:34]):
                addrs.setdefault(a, len(addrs))
    assert len(addrs) < 256, len(addrs)
    written, rep = 0, 0
    with open(dst, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        while written < size:
            base = bytes([10, (rep >> 8) & 255, rep & 255])
            chunk = bytearray()
            for ts_s, ts_u, fr, cut in packets:
                fr = bytearray(fr)
                if fr[12:14] == b"\x08\x00" and len(fr) >= 34:
                    fr[26:30] = base + bytes([addrs[bytes(fr[26:30])]])
                    fr[30:34] = base + bytes([addrs[bytes(fr[30:34])]])
                chunk += struct.pack("<IIII", 1_700_000_000 + rep, ts_u, len(fr), len(fr) + cut)
                chunk += fr
            out.write(chunk)
            written += len(chunk)
            rep += 1
            if rep >= 65536:
                break
    print(f"{dst}: {written + 24} bytes, {rep} repetitions of {len(packets)} packets, {len(addrs)} addresses each")


if __name__ == "__main__":
    main()
