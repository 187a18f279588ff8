"""The ORCA load report a backend attaches to its replies (contract §1).

Trailer `endpoint-load-metrics-bin` carries a binary xds.data.orca.v3.OrcaLoadReport, as gRPC's
weighted_round_robin and Envoy read it. Field numbers, from cncf/xds
xds/data/orca/v3/orca_load_report.proto:

    double cpu_utilization = 1;  double mem_utilization = 2;  uint64 rps = 3 (deprecated);
    map request_cost = 4;  map utilization = 5;  double rps_fractional = 6;  double eps = 7;
    map named_metrics = 8;  double application_utilization = 9;

Debian packages no Python module for the xds protos, and we send only doubles, so the encoder
is a few bytes per field: the key (field << 3 | 1, wire
type 1 = 64-bit, one byte for fields < 16), then the IEEE 754 double little-endian. Like any
proto3 encoder it leaves out fields equal to 0, and writes them in field order.
"""

import struct

TRAILER = "endpoint-load-metrics-bin"

CPU_UTILIZATION = 1
MEM_UTILIZATION = 2
RPS_FRACTIONAL = 6
EPS = 7
APPLICATION_UTILIZATION = 9

_WIRE_FIXED64 = 1
_DOUBLE = struct.Struct("<d")


def encode(cpu_utilization=0.0, application_utilization=0.0, rps_fractional=0.0, eps=0.0, mem_utilization=0.0):
    """The serialized OrcaLoadReport. Every value must be >= 0 (the .proto's constraint)."""
    fields = (
        (CPU_UTILIZATION, cpu_utilization),
        (MEM_UTILIZATION, mem_utilization),
        (RPS_FRACTIONAL, rps_fractional),
        (EPS, eps),
        (APPLICATION_UTILIZATION, application_utilization),
    )
    out = bytearray()
    for number, value in fields:
        value = float(value)
        if not value >= 0.0:  # also rejects NaN
            raise ValueError(f"ORCA field {number} must be >= 0, got {value}")
        if value != 0.0:
            out.append(number << 3 | _WIRE_FIXED64)
            out += _DOUBLE.pack(value)
    return bytes(out)
