"""When background work gives way: many requests in flight, or many arriving (a rush spread
over replicas leaves each with few in flight at any moment)."""

from __future__ import annotations

from bot.core.services import RequestLoad


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def load_at(clock: Clock) -> RequestLoad:
    return RequestLoad(busy_rate=100.0, window=0.25, clock=clock)


def test_quiet_is_not_busy_and_many_in_flight_is() -> None:
    load = load_at(Clock())
    assert not load.busy
    load.in_flight = 9
    assert load.busy


def test_a_fast_stream_of_requests_is_busy_with_few_in_flight() -> None:
    clock = Clock()
    load = load_at(clock)
    for _ in range(30):  # 30 in 0.15 s: 200 a second
        load.arrived()
        clock.now += 0.005
    assert load.in_flight == 0 and load.busy
    clock.now += 0.2  # the next window has begun: the last one still counts
    load.arrived()
    assert load.busy


def test_a_slow_stream_is_not_busy_and_a_rush_stops_being_busy_once_it_ends() -> None:
    clock = Clock()
    load = load_at(clock)
    for _ in range(20):  # one every 50 ms: 20 a second
        load.arrived()
        clock.now += 0.05
    assert not load.busy
    for _ in range(40):
        load.arrived()
        clock.now += 0.001
    assert load.busy
    clock.now += 0.5  # two windows without a request
    assert not load.busy
