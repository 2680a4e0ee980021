#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Seed inputs for fuzz_smmu: a pre-programmed SMMU (linear stream table
at RAM_BASE, queues of 32) whose memory image holds a stage 1, a stage 2,
a nested and a bypass stream, then transactions and commands on them.
Usage: fuzz_smmu_seeds.py DIR"""
import os
import struct
import sys

RAM = 0x40000000
img = bytearray(0x6000)


def put(off, *dwords):
    for i, d in enumerate(dwords):
        struct.pack_into('<Q', img, off + 8 * i, d)


def s2w2(vmid):
    return vmid | 24 << 32 | 1 << 38 | 5 << 48 | 1 << 51


# Stage 1 tables (T0SZ 34: level 2 start) at 0x1000: va 0x1000 -> RAM+0xa000
put(0x1000, RAM + 0x4000 | 3)
put(0x4000 + 8, RAM + 0xa000 | 0x403)
# CD 0 at 0x400: T0SZ 34, IPS 48, ASID 1, TTB0
put(0x400, 34 | 1 << 31 | 5 << 32 | 1 << 41 | 1 << 48, RAM + 0x1000)
# Stage 2 (T0SZ 24, SL0 1, two tables at 0x2000): IPA 0 -> RAM, 1 GiB RW
put(0x2000 + 8, RAM | 0x4c1)
put(0x2000, 0x40000000 | 0x4c1)
# Nested stage 1 tables and CD in IPA space (IPA 0 = RAM + 0)
put(0x440, 34 | 1 << 31 | 5 << 32 | 1 << 41 | 2 << 48, 0x1800)
put(0x1800, 0x5000 | 3)
put(0x5000 + 8, 0xb000 | 0x403)
# STEs: 1 stage 1, 2 stage 2, 3 nested, 4 bypass, 5 substreams (CDMax 1)
put(1 * 64, 1 | 5 << 1 | RAM + 0x400, 0, 0, 0)
put(2 * 64, 1 | 6 << 1, 0, s2w2(7), RAM + 0x2000)
put(3 * 64, 1 | 7 << 1 | 0x440, 0, s2w2(8), RAM + 0x2000)
put(4 * 64, 1 | 4 << 1, 0, 0, 0)
put(5 * 64, 1 | 5 << 1 | RAM + 0x400 | 1 << 59, 2, 0, 0)


def hdr(sid_bits=8, ssid_bits=4, tlb=3, cfg=7):
    return struct.pack('<IH', 1 << 31 | cfg << 20 | tlb << 16 |
                       ssid_bits << 8 | (sid_bits - 1), len(img))


def txn(sid, iova, write=False, ssv=False, ssid=0):
    flags = 0x80 | 0x40 | 0x20 | (2 if write else 0) | (1 if ssv else 0)
    return bytes([1, flags]) + struct.pack('<IIQ', sid, ssid, iova)


def cmd(w0, w1=0):
    return bytes([5]) + struct.pack('<QQ', w0, w1)


seeds = {
    'stage1': [txn(1, 0x1234), txn(1, 0x1234, True), txn(1, 0x99000)],
    'stage2': [txn(2, 0x5678), txn(2, 0x40005678, True)],
    'nested': [txn(3, 0x1010), txn(3, 0x1010, True)],
    'bypass': [txn(4, 0xdead), txn(9, 0)],
    'substreams': [txn(5, 0x1000, ssv=True, ssid=1), txn(5, 0x1000),
                   txn(5, 0x1000, ssv=True, ssid=0)],
    'commands': [txn(1, 0x1000), cmd(0x11 | 1 << 48), cmd(0x46),
                 cmd(0x03 | 1 << 32), cmd(0x7f), txn(1, 0x1000),
                 bytes([0]) + bytes([10, 0]) + struct.pack('<Q', 1),
                 cmd(0x46 | 1 << 12, RAM + 0xf000)],
}
os.makedirs(sys.argv[1], exist_ok=True)
for name, ops in seeds.items():
    with open(os.path.join(sys.argv[1], 'seed-' + name), 'wb') as f:
        f.write(hdr() + bytes(img) + b''.join(ops))
