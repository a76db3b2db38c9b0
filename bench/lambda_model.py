"""The Lambda model of BENCHMARKS.md: what a request measured here, on a full
core, would take and cost on Lambda at a given MemorySize.

Lambda gives a function CPU in proportion to its memory while it handles
requests (1,769 MB is one vCPU, so 128 MB is about 7 % of a core) and a full
CPU during init. So the CPU a request used here is stretched by 1/share,
the time it spent waiting (DynamoDB, the runtime API) is not:

    request on Lambda = wall here + CPU here x (1/share - 1)
    cold request      = init wall + the first request so stretched

Prices: the arm64 list price in us-east-1 (aws.amazon.com/lambda/pricing,
December 2026): $0.0000133334 per GB-second
(1 GB = 1,024 MB; billed per 1 ms, rounded up) and $0.20 per million
requests. For custom runtimes (provided.al2023) the init phase is billed
too, so a cold request is billed for init + its duration.

The anchors' pair: 15.3 ms at 128 MB costs what 7.8 ms at 256 MB costs,
because both bill the same GB-ms and the request fee is most of it:

>>> round(cost_per_million(15.3, 128), 4), round(cost_per_million(7.8, 256), 4)
(0.2267, 0.2267)
>>> stretched(10.0, 2.0, 1769), round(stretched(10.0, 2.0, 128), 2)
(10.0, 35.64)
>>> round(mixed(cold=100.0, warm=10.0, cold_share=0.01), 2)
10.9

The same pair gives the CPU such a warm request takes on Lambda (a plain
GetItem function on arm64): the time it loses from 256 to 128 MB is its CPU
x (1/share(128) - 1/share(256)).

>>> round(published_warm_cpu_ms(), 3)
1.085
"""

import math

MEMORY_SIZES_MB = (128, 256, 512, 1024, 1769)
ONE_VCPU_MB = 1769
USD_PER_GB_SECOND = 0.0000133334
USD_PER_MILLION_REQUESTS = 0.20
# Published measurements of a plain lambda_http + aws-config +
# aws-sdk-dynamodb GetItem function on arm64 (ms): warm requests at 128 and
# 256 MB, and first requests at 128 and 1,024 MB.
PUBLISHED_WARM_MS = {128: 15.3, 256: 7.8}
PUBLISHED_FIRST_MS = {128: 826.0, 1024: 129.0}
PRICE_SOURCE = ("arm64, us-east-1: $0.0000133334 per GB-second, billed per 1 ms (rounded up), "
                "and $0.20 per million requests (aws.amazon.com/lambda/pricing, December 2026)")


def cpu_share(memory_mb):
    """The fraction of one core Lambda gives a function of this size."""
    return min(1.0, memory_mb / ONE_VCPU_MB)


def stretched(wall_ms, cpu_ms, memory_mb):
    """A request's time on Lambda from its wall and CPU time on a full core."""
    return wall_ms + cpu_ms * (1 / cpu_share(memory_mb) - 1)


def cost_per_million(duration_ms, memory_mb):
    """USD per million requests that each bill `duration_ms`."""
    billed_ms = math.ceil(duration_ms)
    gb_seconds = billed_ms / 1000 * memory_mb / 1024
    return USD_PER_MILLION_REQUESTS + 1e6 * gb_seconds * USD_PER_GB_SECOND


def published_warm_cpu_ms():
    """Full-core CPU ms of the published warm request, by the model."""
    (small, small_ms), (large, large_ms) = sorted(PUBLISHED_WARM_MS.items())
    return (small_ms - large_ms) / (1 / cpu_share(small) - 1 / cpu_share(large))


def mixed(cold, warm, cold_share):
    """The mean of a quantity over a mix of cold and warm requests."""
    return cold_share * cold + (1 - cold_share) * warm


if __name__ == "__main__":
    import doctest

    failures, _ = doctest.testmod()
    raise SystemExit(1 if failures else 0)
