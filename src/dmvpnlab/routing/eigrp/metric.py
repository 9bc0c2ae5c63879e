"""The classic EIGRP composite metric, computed the way IOS does (integer arithmetic).

IOS: metric = 256 * (K1*BW + K2*BW/(256-load) + K3*DLY) [* K5/(reliability+K4) if K5],
with BW = 10^7 // (minimum bandwidth in kbit/s along the path) and DLY = the sum of the
interface delays in tens of microseconds. The 10^7 // bw truncation happens before the
* 256 (a T1 with delay 20000 us gives IOS's 2169856, not 2170031), so the wire fields and
this function keep that order. Delay 0xFFFFFFFF on the wire means unreachable.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from dmvpnlab.routing.eigrp.tlvs import DELAY_INFINITY, Metric

INFINITY = 0xFFFFFFFF
MAX_HOPS = 100  # IOS `metric maximum-hops` default


@dataclass(frozen=True)
class KValues:
    """`metric weights 0 k1 k2 k3 k4 k5`; IOS default 1 0 1 0 0."""

    k1: int = 1
    k2: int = 0
    k3: int = 1
    k4: int = 0
    k5: int = 0


DEFAULT_K = KValues()


def scaled_bandwidth(bandwidth_kbps: int) -> int:
    """The route TLV's bandwidth field for an interface `bandwidth` (kbit/s)."""
    return 256 * (10**7 // max(1, bandwidth_kbps))


def scaled_delay(delay_usec: int) -> int:
    """The route TLV's delay field for a delay in microseconds (`delay` is in tens)."""
    return 256 * (delay_usec // 10)


def composite(metric: Metric, k: KValues = DEFAULT_K) -> int:
    """The composite metric of the wire fields (scaled bandwidth and delay)."""
    if metric.unreachable:
        return INFINITY
    bw, delay = metric.bandwidth, metric.delay
    value = k.k1 * bw + k.k3 * delay
    if k.k2:
        value += k.k2 * bw // (256 - min(metric.load, 255))
    if k.k5:
        value = value * k.k5 // (metric.reliability + k.k4) if metric.reliability + k.k4 else INFINITY
    return min(value, INFINITY)


def classic_metric(bandwidth_kbps: int, delay_usec: int, k: KValues = DEFAULT_K,
                   reliability: int = 255, load: int = 1) -> int:
    """The metric of a path whose slowest link is `bandwidth_kbps` and total delay `delay_usec`."""
    return composite(Metric(scaled_delay(delay_usec), scaled_bandwidth(bandwidth_kbps),
                            reliability=reliability, load=load), k)


def through_interface(metric: Metric, bandwidth_kbps: int, delay_usec: int, mtu: int) -> Metric:
    """The metric a route has once it is received over an interface: delay added,
    bandwidth and MTU the path's minimum, one hop more; unreachable stays unreachable."""
    if metric.unreachable:
        return metric
    delay = min(metric.delay + scaled_delay(delay_usec), DELAY_INFINITY - 1)
    return replace(metric, delay=delay, bandwidth=max(metric.bandwidth, scaled_bandwidth(bandwidth_kbps)),
                   mtu=min(metric.mtu, mtu), hop_count=min(metric.hop_count + 1, 255))
