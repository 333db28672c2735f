"""Queues: FIFO, padding and random-shuffle semantics, closing, and many threads at once."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import staticflow as sf

DEADLOCK_GUARD_S = 120  # a deadlock fails the test after this long instead of hanging CI


@pytest.fixture(autouse=True)
def _fresh_graph():
    with sf.Graph().as_default() as g:
        yield g


def _join_all(threads, sess):
    for t in threads:
        t.join(DEADLOCK_GUARD_S)
    alive = [t.name for t in threads if t.is_alive()]
    if alive:
        sess.close()  # cancels whatever waits in a queue, so the threads end
        pytest.fail(f"threads still blocked after {DEADLOCK_GUARD_S}s (deadlock?): {alive}")


def test_fifo_order_many_and_up_to_and_static_shapes():
    q = sf.FIFOQueue(10, [sf.int32, sf.float32], shapes=[[], [2]])
    enq = q.enqueue_many([np.arange(6, dtype=np.int32), np.arange(12, dtype=np.float32).reshape(6, 2)])
    one = q.dequeue()
    many = q.dequeue_many(3)
    up_to = q.dequeue_up_to(5)
    assert [t.shape.as_list() for t in one] == [[], [2]]
    assert [t.shape.as_list() for t in many] == [[3], [3, 2]]
    assert [t.shape.as_list() for t in up_to] == [[None], [None, 2]]
    with sf.Session() as sess:
        sess.run(enq)
        assert sess.run(q.size()) == 6
        a, b = sess.run(one)
        assert a == 0 and b.tolist() == [0.0, 1.0]
        assert sess.run(many)[0].tolist() == [1, 2, 3]
        sess.run(q.close())
        assert sess.run(up_to)[0].tolist() == [4, 5]  # fewer than 5: the queue is closed
        with pytest.raises(sf.errors.OutOfRangeError, match="is closed and has insufficient elements"):
            sess.run(up_to)
        with pytest.raises(sf.errors.CancelledError, match="is closed"):
            sess.run(enq)


def test_dequeue_many_keeps_elements_when_closed_short():
    q = sf.FIFOQueue(5, sf.int64, shapes=[[]])
    with sf.Session() as sess:
        sess.run(q.enqueue_many([[1, 2]]))
        sess.run(q.close())
        with pytest.raises(sf.errors.OutOfRangeError, match=r"requested 3, current size 2"):
            sess.run(q.dequeue_many(3))
        assert sess.run(q.dequeue_many(2)).tolist() == [1, 2]


def test_names_dicts_and_construction_errors():
    q = sf.FIFOQueue(4, [sf.int32, sf.string], shapes=[[], []], names=["n", "s"])
    with sf.Session() as sess:
        sess.run(q.enqueue({"n": 3, "s": "three"}))
        assert sess.run(q.dequeue()) == {"n": 3, "s": b"three"}
    with pytest.raises(ValueError, match="must enqueue a dictionary"):
        q.enqueue([1, "a"])
    plain = sf.FIFOQueue(4, [sf.int32], shapes=[[2]])
    with pytest.raises(ValueError, match="incompatible"):
        plain.enqueue([[1, 2, 3]])
    with pytest.raises(ValueError, match="fully defined"):
        sf.FIFOQueue(4, [sf.int32], shapes=[[None]])
    with pytest.raises(ValueError, match="list of shapes"):
        sf.PaddingFIFOQueue(4, [sf.int32], shapes=None)


def test_run_time_shape_checks_and_unknown_shapes():
    x = sf.placeholder(sf.int32)
    q = sf.FIFOQueue(3, [sf.int32], shapes=[[2]])
    free = sf.FIFOQueue(3, [sf.int32])
    with sf.Session() as sess:
        with pytest.raises(sf.errors.InvalidArgumentError, match=r"Expected \[2\], got \[3\]"):
            sess.run(q.enqueue([x]), {x: [1, 2, 3]})
        sess.run(free.enqueue([x]), {x: [1, 2, 3]})
        assert sess.run(free.dequeue()).tolist() == [1, 2, 3]
        with pytest.raises(
            sf.errors.InvalidArgumentError, match="require the components to have specified shapes"
        ):
            sess.run(free.dequeue_many(1))


def test_padding_fifo_queue_pads_each_batch_to_its_largest():
    x = sf.placeholder(sf.int32, [None])
    q = sf.PaddingFIFOQueue(5, [sf.int32, sf.string], shapes=[[None], [None, 2]])
    enq = q.enqueue([x, sf.fill(sf.stack([sf.size(x), 2]), "s")])
    many = q.dequeue_many(2)
    assert [t.shape.as_list() for t in many] == [[2, None], [2, None, 2]]
    with sf.Session() as sess:
        for v in ([1, 2, 3], [4], [5, 6]):
            sess.run(enq, {x: v})
        nums, strs = sess.run(many)
        last = sess.run(q.dequeue())
    np.testing.assert_array_equal(nums, [[1, 2, 3], [4, 0, 0]])
    assert strs[1].tolist() == [[b"s", b"s"], [b"", b""], [b"", b""]]
    assert last[0].tolist() == [5, 6]


def test_random_shuffle_queue_keeps_min_after_dequeue_and_loses_nothing():
    q = sf.RandomShuffleQueue(capacity=50, min_after_dequeue=10, dtypes=[sf.int32], shapes=[[]], seed=11)
    size = q.size()
    with sf.Session() as sess:
        sess.run(q.enqueue_many([np.arange(40, dtype=np.int32)]))
        first = sess.run(q.dequeue_many(30))
        assert sess.run(size) == 10  # never below min_after_dequeue while open
        sess.run(q.close())
        rest = sess.run(q.dequeue_up_to(50))
    got = first.tolist() + rest.tolist()
    assert sorted(got) == list(range(40))
    assert got != list(range(40))


def test_close_with_cancel_fails_a_blocked_enqueue_and_session_close_unblocks_dequeue():
    q = sf.FIFOQueue(1, [sf.int32], shapes=[[]])
    enq = q.enqueue([7])
    cancel = q.close(cancel_pending_enqueues=True)
    sess = sf.Session()
    sess.run(enq)  # full now
    outcome = {}

    def blocked_enqueue():
        try:
            sess.run(enq)
            outcome["enqueue"] = "ran"
        except sf.errors.CancelledError as e:
            outcome["enqueue"] = str(e)

    t = threading.Thread(target=blocked_enqueue)
    t.start()
    # the blocked thread holds no lock: this thread's runs go on meanwhile
    assert sess.run(q.size()) == 1
    sess.run(cancel)
    _join_all([t], sess)
    assert "is closed" in outcome["enqueue"]
    assert sess.run(q.dequeue()) == 7  # what was enqueued stays

    q2 = sf.FIFOQueue(2, [sf.int32], shapes=[[]])
    deq = q2.dequeue()

    def blocked_dequeue():
        try:
            sess.run(deq)
        except (sf.errors.CancelledError, RuntimeError) as e:
            outcome["dequeue"] = type(e).__name__

    t2 = threading.Thread(target=blocked_dequeue)
    t2.start()
    sess.close()
    t2.join(DEADLOCK_GUARD_S)
    assert not t2.is_alive() and outcome["dequeue"] in ("CancelledError", "RuntimeError")


def test_many_producers_and_consumers_lose_and_duplicate_nothing():
    """6 producer and 5 consumer threads through a small queue, each with runs that compute
    on what they move: every record arrives exactly once, and nothing deadlocks."""
    producers, consumers, per_producer, batch = 6, 5, 400, 7
    q = sf.FIFOQueue(8, [sf.int64, sf.float32], shapes=[[], [3]])
    ids = sf.placeholder(sf.int64, [None])
    enq = q.enqueue_many([ids, sf.tile(sf.expand_dims(sf.cast(ids, sf.float32), 1), [1, 3]) * 2.0])
    got_ids, got_vals = q.dequeue_up_to(batch)
    check = sf.reduce_sum(got_vals, axis=1)  # a computation on each dequeued batch
    sess = sf.Session()
    received: list[list[int]] = [[] for _ in range(consumers)]
    bad = []

    def produce(p):
        start = p * per_producer
        for k in range(start, start + per_producer, 5):
            sess.run(enq, {ids: np.arange(k, min(k + 5, start + per_producer))})

    def consume(c):
        while True:
            try:
                i, s = sess.run([got_ids, check])
            except sf.errors.OutOfRangeError:
                return
            if not np.allclose(s, i.astype(np.float32) * 6.0):
                bad.append((i, s))
            received[c].extend(int(v) for v in i)

    prod = [threading.Thread(target=produce, args=(p,), name=f"producer-{p}") for p in range(producers)]
    cons = [threading.Thread(target=consume, args=(c,), name=f"consumer-{c}") for c in range(consumers)]
    for t in prod + cons:
        t.start()
    _join_all(prod, sess)
    sess.run(q.close())
    _join_all(cons, sess)
    sess.close()
    everything = [v for r in received for v in r]
    assert not bad
    assert len(everything) == producers * per_producer
    assert sorted(everything) == list(range(producers * per_producer))


def test_running_a_dequeue_as_an_operation_takes_its_element():
    q = sf.FIFOQueue(3, [sf.int32], shapes=[[]])
    deq = q.dequeue()
    with sf.Session() as sess:
        sess.run(q.enqueue_many([[1, 2, 3]]))
        assert sess.run(deq.op) is None
        assert sess.run([deq.op, q.size()])[1] == 1
        assert sess.run(deq) == 3


def test_queue_graphs_survive_a_graph_def_round_trip():
    q = sf.FIFOQueue(4, [sf.int32, sf.string], shapes=[[], []], name="q")
    q.enqueue_many([[1, 2], ["a,1.5", "b,2.5"]], name="fill")
    n, line = q.dequeue_many(2, name="take")
    sf.decode_csv(line, [["x"], [0.0]], name="parse")
    data = sf.get_default_graph().as_graph_def().SerializeToString()
    g2 = sf.Graph()
    with g2.as_default():
        sf.import_graph_def(sf.GraphDef.FromString(data), name="")
        with sf.Session() as sess:
            sess.run("fill")
            got = sess.run(["take:0", "parse:0", "parse:1"])
    assert got[0].tolist() == [1, 2] and got[1].tolist() == [b"a", b"b"] and got[2].tolist() == [1.5, 2.5]
