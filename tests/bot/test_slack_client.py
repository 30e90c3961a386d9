from __future__ import annotations

from bot.slack_client import ChannelPacer


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds


def test_a_short_burst_passes_then_one_post_a_second() -> None:
    clock = _Clock()
    pacer = ChannelPacer(per_second=1.0, burst=3, clock=clock, sleep=clock.sleep)

    waits = [round(pacer.wait("chat.postMessage:C1"), 3) for _ in range(6)]

    assert waits == [0.0, 0.0, 0.0, 1.05, 1.05, 1.05]


def test_channels_are_paced_separately_and_idle_time_refills_the_burst() -> None:
    clock = _Clock()
    pacer = ChannelPacer(per_second=1.0, burst=2, clock=clock, sleep=clock.sleep)

    assert [pacer.wait("C1"), pacer.wait("C1"), pacer.wait("C2")] == [0.0, 0.0, 0.0]
    assert round(pacer.wait("C1"), 3) == 1.05
    clock.now += 10
    assert [pacer.wait("C1"), pacer.wait("C1")] == [0.0, 0.0]
