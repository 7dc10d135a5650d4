"""CRC-32C (Castagnoli) of large byte strings with numpy, for the checksums of event-file records.

TensorBoard's TensorFlow-free record writer computes this checksum one byte at a time in Python,
at 2-6 MB/s, so writing one epoch of a 1000-class model took seconds. CRC is linear over GF(2),
which allows a vectorised form:

- the message is cut into K lanes of L bytes (zero bytes in front pad it to K·L; leading zeros
  leave a zero register unchanged), and the K lane registers advance together, one byte column per
  numpy step: r ← TABLE[(r ⊕ byte) & 0xFF] ⊕ (r >> 8);
- neighbouring lanes are then joined pairwise, level by level: crc(A‖B) = shift_|B|(crc(A)) ⊕ crc(B),
  where shift_n is the linear map "feed n zero bytes" (a 32×32 bit matrix, applied with four
  256-entry tables, one per register byte, and squared from one level to the next);
- the standard initial register 0xFFFFFFFF equals XOR-ing 0xFF into the first four message bytes
  and starting from 0; the final XOR with 0xFFFFFFFF follows.
"""

from __future__ import annotations

import functools
import math

import numpy as np

_POLYNOMIAL = 0x82F63B78  # Castagnoli, bit-reflected
_ALL_ONES = 0xFFFFFFFF
_MASK_DELTA = 0xA282EAD8  # TFRecord's checksum mask
# Messages up to this many bytes are checksummed byte by byte: fewer Python steps than lanes need.
_SEQUENTIAL_MAX_BYTES = 1024


def _byte_table() -> np.ndarray:
    """TABLE[b]: the register after feeding byte b into a register of 0 (reflected CRC-32C)."""
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(_POLYNOMIAL), table >> 1).astype(np.uint32)
    return table


_TABLE = _byte_table()
_TABLE_INTS = _TABLE.tolist()
_BIT_OF_BYTE = ((np.arange(256)[:, None] >> np.arange(8)) & 1).astype(bool)  # (256, 8)
_REGISTER_BITS = np.uint32(1) << np.arange(32, dtype=np.uint32)  # the 32 one-bit registers


def _apply(tables: np.ndarray, registers: np.ndarray) -> np.ndarray:
    """A linear map of 32-bit registers, given as four (256,) tables of the images of each byte."""
    return (
        tables[0][registers & 0xFF]
        ^ tables[1][(registers >> 8) & 0xFF]
        ^ tables[2][(registers >> 16) & 0xFF]
        ^ tables[3][registers >> 24]
    )


def _tables_of(columns: np.ndarray) -> np.ndarray:
    """(4, 256) byte tables of the linear map whose image of bit i is columns[i]."""
    tables = np.empty((4, 256), dtype=np.uint32)
    for byte in range(4):
        images = np.where(_BIT_OF_BYTE, columns[8 * byte : 8 * byte + 8], np.uint32(0))
        tables[byte] = np.bitwise_xor.reduce(images, axis=1)
    return tables


@functools.lru_cache(maxsize=64)
def _zeros_shift_tables(log2_bytes: int) -> np.ndarray:
    """Byte tables of shift_n for n = 2^log2_bytes: the register after feeding n zero bytes."""
    if log2_bytes == 0:
        return _tables_of(_TABLE[_REGISTER_BITS & 0xFF] ^ (_REGISTER_BITS >> 8))
    half = _zeros_shift_tables(log2_bytes - 1)
    return _tables_of(_apply(half, _apply(half, _REGISTER_BITS)))


def _lane_bytes(num_bytes: int) -> int:
    """L, a power of 2 near sqrt(n / 16): balances L numpy steps against the work per step."""
    return 1 << min(12, max(4, round(math.log2(max(num_bytes, 16) / 16) / 2)))


def crc32c(data: bytes) -> int:
    """CRC-32C of `data` (initial register and final XOR 0xFFFFFFFF), e.g. 0xE3069283 for b"123456789".

    >>> hex(crc32c(b"123456789"))
    '0xe3069283'
    """
    num_bytes = len(data)
    if num_bytes <= _SEQUENTIAL_MAX_BYTES:
        register = _ALL_ONES
        for byte in data:
            register = _TABLE_INTS[(register ^ byte) & 0xFF] ^ (register >> 8)
        return register ^ _ALL_ONES
    lane_bytes = _lane_bytes(num_bytes)
    num_lanes = -(-num_bytes // lane_bytes)
    padding = num_lanes * lane_bytes - num_bytes
    message = np.zeros(num_lanes * lane_bytes, dtype=np.uint8)
    message[padding:] = np.frombuffer(data, dtype=np.uint8)
    message[padding : padding + 4] ^= np.uint8(0xFF)  # the initial register 0xFFFFFFFF
    columns = np.ascontiguousarray(message.reshape(num_lanes, lane_bytes).T)
    registers = np.zeros(num_lanes, dtype=np.uint32)
    index = np.empty(num_lanes, dtype=np.uint32)
    looked_up = np.empty(num_lanes, dtype=np.uint32)
    for column in columns:
        np.bitwise_xor(registers, column, out=index)
        index &= 0xFF
        registers >>= 8
        registers ^= np.take(_TABLE, index, out=looked_up)
    log2_block = lane_bytes.bit_length() - 1
    while registers.size > 1:
        if registers.size % 2:  # a leading all-zero block changes nothing
            registers = np.concatenate([np.zeros(1, dtype=np.uint32), registers])
        registers = _apply(_zeros_shift_tables(log2_block), registers[0::2]) ^ registers[1::2]
        log2_block += 1
    return int(registers[0]) ^ _ALL_ONES


def masked_crc32c(data: bytes) -> int:
    """The masked CRC-32C that TFRecord framing stores: rotate right by 15, add 0xA282EAD8."""
    value = crc32c(data)
    return (((value >> 15) | (value << 17)) + _MASK_DELTA) & _ALL_ONES
