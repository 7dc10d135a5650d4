"""The test servers' ports: each worker's own block, below the kernel's ephemeral range, never one
already bound (two xdist workers asking the kernel for "any free port" could be handed the same)."""

from __future__ import annotations

import socket

from tests.conftest import _PORT_BLOCK_SIZE, _PORT_BLOCK_START, _free_port, _port_block


def test_ports_come_from_this_workers_block_below_the_ephemeral_range_and_skip_bound_ones():
    start = _PORT_BLOCK_START + _port_block() * _PORT_BLOCK_SIZE
    first = _free_port()
    assert start <= first < start + _PORT_BLOCK_SIZE
    with open("/proc/sys/net/ipv4/ip_local_port_range") as ports:
        assert start + _PORT_BLOCK_SIZE <= int(ports.read().split()[0])
    with socket.socket() as held:
        held.bind(("127.0.0.1", first + 1 if first + 1 < start + _PORT_BLOCK_SIZE else start))
        taken = held.getsockname()[1]
        handed = [_free_port() for _ in range(3)]
    assert taken not in handed
    assert len({first, *handed}) == 4
