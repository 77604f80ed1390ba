"""The guessing lockouts in force, as a Prometheus gauge that both `ivr serve` and `ivr web`
serve at /metrics. They are read from the database every instance shares at each scrape,
so every instance shows the whole line's lockouts, not only those it counted itself."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)


class LockoutGauge(Collector):
    """`ivr_lockouts{limit}`: callers, anonymous calls and contracts locked out now."""

    def __init__(self, lockouts: Callable[[], Mapping[str, int]]) -> None:
        self.lockouts = lockouts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            counts = self.lockouts()
        except Exception as error:  # a scrape must not fail when the database does
            log.warning("the lockouts could not be counted for /metrics: %s", type(error).__name__)
            return
        gauge = GaugeMetricFamily(
            "ivr_lockouts",
            "Callers (caller), calls without a caller number (anonymous) and contracts "
            "(contract) locked out now for too many failed attempts, on the whole line.",
            labels=["limit"],
        )
        for limit, count in sorted(counts.items()):
            gauge.add_metric([str(limit)], count)
        yield gauge
