import pytest

from app.engine.pacing import Pacer
from app.engine.plan import WorkerPlan
from app.engine.schedule import Schedule
from app.spec import Stage, parse_spec


def test_constant_rate():
    pacer = Pacer(200.0)
    assert [pacer.due_s(k) for k in (0, 1, 200, 1000)] == [0.0, 0.005, 1.0, 5.0]


def test_linear_ramps_deliver_the_area_under_the_rate():
    pacer = Pacer(None, (Stage(10, 100), Stage(10, 100), Stage(5, 0)))
    due = []
    k = 0
    while (t := pacer.due_s(k)) is not None:
        due.append(t)
        k += 1
    assert len(due) == 500 + 1000 + 250
    per_second = [sum(1 for t in due if s <= t < s + 1) for s in range(25)]
    assert per_second[0] == 5 and per_second[9] == 95        # ramping up 0 -> 100
    assert all(n == 100 for n in per_second[10:20])          # holding
    assert per_second[20] == 90 and per_second[24] == 10     # ramping down to 0
    assert due == sorted(due)


def test_rate_holds_after_the_last_stage():
    pacer = Pacer(10.0, (Stage(1, 10),))
    assert pacer.due_s(20) == pytest.approx(2.0)


def test_workers_share_one_schedule_exactly():
    spec = parse_spec({"url": "http://x/{i}", "requests": 101, "rate": 50, "concurrency": 4,
                       "workers": 3})
    plans = [WorkerPlan(spec, w, 3, 0) for w in range(3)]
    assert sum(p.concurrency for p in plans) == 4
    schedules = [Schedule(p) for p in plans]
    due = sorted((d, i) for s in schedules for i, d in iter(s.next_due, None))
    assert [i for _, i in due] == list(range(101))
    whole = Pacer(50.0)
    assert [d for d, _ in due] == [int(whole.due_s(i) * 1e9) for i in range(101)]


def test_the_schedule_ends_at_the_deadline_and_says_what_is_late():
    spec = parse_spec({"url": "http://x/", "rate": 10, "duration": 1, "concurrency": 2})
    schedule = Schedule(WorkerPlan(spec, 0, 1, 5_000))
    due = [d for _, d in iter(schedule.next_due, None)]
    assert due == [5_000 + i * 100_000_000 for i in range(10)]   # none at or past 1 s
    assert schedule.next_due() is None and schedule.expired(5_000 + 1_000_000_000)
    assert not schedule.late(0, 1_000_000) and schedule.late(0, 1_000_001)
    closed = Schedule(WorkerPlan(parse_spec({"url": "http://x/", "requests": 5}), 1, 2, 0))
    assert not closed.open and list(closed.indices) == [1, 3]


def test_count_before_is_the_schedule_s_own_count():
    assert Pacer(10.0).count_before(1.0) == 10
    ramp = Pacer(None, (Stage(1, 100),))        # 0 -> 100 req/s over 1 s: 50 due
    assert ramp.count_before(1.0) == 50
    assert ramp.count_before(2.0) == 150        # then 100 req/s held
    assert Pacer(None, (Stage(2, 0),)).count_before(5.0) == 0
