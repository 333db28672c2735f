"""TF1's queue-based input pipelines end to end: producers, readers, batching, queue runners."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import staticflow as sf


@pytest.fixture(autouse=True)
def _fresh_graph():
    with sf.Graph().as_default() as g:
        yield g


def _write_csv(tmp_path, rng, n_files=2, rows=200):
    """Two-class data, separable with a margin: y = [x . w > 0]."""
    w = np.array([1.5, -2.0, 0.5, 1.0])
    paths, all_x, all_y = [], [], []
    for f in range(n_files):
        x = rng.uniform(-1, 1, (rows, 4))
        score = x @ w
        keep = np.abs(score) > 0.3
        x, y = x[keep], (score[keep] > 0).astype(int)
        path = tmp_path / f"part{f}.csv"
        lines = ["f0,f1,f2,f3,label"] + [",".join(f"{v:.6f}" for v in r) + f",{c}" for r, c in zip(x, y)]
        path.write_text("\n".join(lines) + "\n")
        paths.append(str(path))
        all_x.append(x)
        all_y.append(y)
    return paths, np.concatenate(all_x).astype(np.float32), np.concatenate(all_y)


def test_csv_pipeline_trains_a_model_and_stops_cleanly_at_the_end_of_its_epochs(tmp_path):
    """string_input_producer + TextLineReader + decode_csv + shuffle_batch, run by queue runners:
    logistic regression reaches 95% training accuracy; after num_epochs the last (smaller)
    batch comes out, then OutOfRangeError, and coord.join returns with every thread ended."""
    epochs, batch_size = 15, 16
    paths, x_all, y_all = _write_csv(tmp_path, np.random.default_rng(0))
    producer = sf.train.string_input_producer(paths, num_epochs=epochs, shuffle=True, seed=1)
    _, line = sf.TextLineReader(skip_header_lines=1).read(producer)
    *features, label = sf.decode_csv(line, [[0.0]] * 4 + [[0]])
    xb, yb = sf.train.shuffle_batch(
        [sf.stack(features), label],
        batch_size,
        capacity=200,
        min_after_dequeue=50,
        num_threads=2,
        seed=2,
        allow_smaller_final_batch=True,
    )
    assert xb.shape.as_list() == [None, 4] and yb.dtype == sf.int32
    w = sf.Variable(np.zeros((4, 2), np.float32))
    b = sf.Variable(np.zeros(2, np.float32))
    logits = sf.matmul(xb, w) + b
    loss = sf.reduce_mean(sf.nn.sparse_softmax_cross_entropy_with_logits(labels=yb, logits=logits))
    train = sf.train.GradientDescentOptimizer(0.5).minimize(loss)
    seen = sf.shape(yb)[0]

    with sf.Session() as sess:
        sess.run([sf.global_variables_initializer(), sf.local_variables_initializer()])
        coord = sf.train.Coordinator()
        threads = sf.train.start_queue_runners(sess=sess, coord=coord)
        examples, steps, ended = 0, 0, False
        try:
            while not coord.should_stop():
                _, n = sess.run([train, seen])
                examples += int(n)
                steps += 1
        except sf.errors.OutOfRangeError:
            ended = True
        finally:
            coord.request_stop()
        coord.join(threads, stop_grace_period_secs=60)
        w_v, b_v = sess.run([w, b])
    assert ended
    assert all(not t.is_alive() for t in threads)
    assert examples == epochs * len(y_all)  # every record of every epoch, once
    assert steps == -(-examples // batch_size)
    accuracy = float(np.mean(np.argmax(x_all @ w_v + b_v, axis=1) == y_all))
    assert accuracy >= 0.95, accuracy


def test_batch_and_batch_join_keep_every_element():
    x = sf.range(0, 10)
    q_in = sf.train.input_producer(sf.reshape(x, [10, 1]), num_epochs=2, shuffle=False)
    row = q_in.dequeue()
    batched = sf.train.batch({"v": row, "sq": row * row}, 4, allow_smaller_final_batch=True)
    assert batched["v"].shape.as_list() == [None, 1]
    with sf.Session() as sess:
        sess.run(sf.local_variables_initializer())
        coord = sf.train.Coordinator()
        threads = sf.train.start_queue_runners(sess, coord)
        got = []
        try:
            while True:
                got.append(sess.run(batched))
        except sf.errors.OutOfRangeError:
            pass
        coord.request_stop()
        coord.join(threads)
    v = np.concatenate([g["v"] for g in got]).ravel()
    assert v.tolist() == list(range(10)) * 2  # one thread, FIFO: the order is kept
    np.testing.assert_array_equal(np.concatenate([g["sq"] for g in got]).ravel(), v * v)
    assert [len(g["v"]) for g in got] == [4, 4, 4, 4, 4]


def test_batch_join_and_slice_input_producer():
    a = sf.train.slice_input_producer(
        [sf.constant([1, 2, 3]), sf.constant([[1.0], [2.0], [3.0]])], num_epochs=1, shuffle=False
    )
    b = [sf.constant(100), sf.constant([100.0])]
    joined = sf.train.batch_join([a, b], 2)
    assert [t.shape.as_list() for t in joined] == [[2], [2, 1]]
    with sf.Session() as sess:
        sess.run(sf.local_variables_initializer())
        coord = sf.train.Coordinator()
        threads = sf.train.start_queue_runners(sess, coord)
        items = []
        for _ in range(6):
            i, f = sess.run(joined)
            items.extend(zip(i.tolist(), f.ravel().tolist()))
        coord.request_stop()
        coord.join(threads)
    from_a = [p for p in items if p[0] != 100]
    assert all(float(i) == f for i, f in items)
    assert from_a == [p for p in [(1, 1.0), (2, 2.0), (3, 3.0)] if p in from_a]  # a's order kept
    assert len(from_a) <= 3


def test_dynamic_pad_and_enqueue_many_and_shape_errors():
    with pytest.raises(ValueError, match="fully defined"):
        sf.train.batch([sf.placeholder(sf.float32, [None])], 4)
    padded = sf.train.batch([sf.placeholder_with_default(sf.constant([1, 2]), [None])], 2, dynamic_pad=True)
    many = sf.train.batch([sf.constant([[1, 2], [3, 4], [5, 6]])], 4, enqueue_many=True)
    assert padded.shape.as_list() == [2, None] and many.shape.as_list() == [4, 2]
    with sf.Session() as sess:
        coord = sf.train.Coordinator()
        threads = sf.train.start_queue_runners(sess, coord)
        np.testing.assert_array_equal(sess.run(padded), [[1, 2], [1, 2]])
        np.testing.assert_array_equal(sess.run(many), [[1, 2], [3, 4], [5, 6], [1, 2]])
        coord.request_stop()
        coord.join(threads)


def test_string_input_producer_shuffles_each_epoch_and_checks_its_input():
    with pytest.raises(ValueError, match="non-null input tensor"):
        sf.train.string_input_producer([])
    names = [f"f{i}" for i in range(8)]
    q = sf.train.string_input_producer(names, num_epochs=3, seed=5)
    name = q.dequeue()
    with sf.Session() as sess:
        sess.run(sf.local_variables_initializer())
        coord = sf.train.Coordinator()
        threads = sf.train.start_queue_runners(sess, coord)
        got = []
        try:
            while True:
                got.append(sess.run(name).decode())
        except sf.errors.OutOfRangeError:
            pass
        coord.request_stop()
        coord.join(threads)
    epochs = [got[i * 8 : (i + 1) * 8] for i in range(3)]
    assert len(got) == 24 and all(sorted(e) == sorted(names) for e in epochs)
    assert len({tuple(e) for e in epochs}) > 1  # reshuffled


def test_count_up_to_and_limit_epochs():
    v = sf.Variable(np.int64(0))
    step = v.count_up_to(2)
    with sf.Session() as sess:
        sess.run(v.initializer)
        assert [sess.run(step), sess.run(step)] == [0, 1]
        with pytest.raises(sf.errors.OutOfRangeError, match="Reached limit of 2"):
            sess.run(step)
        assert sess.run(v) == 2


def test_coordinator_reports_the_first_error_and_ignores_clean_stops():
    coord = sf.train.Coordinator()
    ran = []

    def worker(i):
        with coord.stop_on_exception():
            while not coord.should_stop():
                if i == 1:
                    raise ValueError("worker 1 failed")
                coord.wait_for_stop(0.01)
            ran.append(i)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    with pytest.raises(ValueError, match="worker 1 failed"):
        coord.join(threads)
    assert sorted(ran) == [0, 2] and coord.joined
    clean = sf.train.Coordinator()
    clean.request_stop(sf.errors.OutOfRangeError(None, None, "done"))
    clean.join([])  # a clean stop raises nothing
    assert clean.should_stop()
    clean.clear_stop()
    assert not clean.should_stop()


def test_queue_runner_closes_the_queue_when_its_input_ends_and_reports_errors():
    q = sf.FIFOQueue(10, [sf.int32], shapes=[[]])
    counter = sf.Variable(np.int32(0))
    enq = q.enqueue([counter.count_up_to(5)])
    qr = sf.train.QueueRunner(q, [enq, enq])
    deq = q.dequeue()
    with sf.Session() as sess:
        sess.run(counter.initializer)
        threads = qr.create_threads(sess, start=True)
        got = []
        try:
            while True:
                got.append(int(sess.run(deq)))
        except sf.errors.OutOfRangeError:
            pass
        for t in threads:
            t.join(60)
    assert sorted(got) == [0, 1, 2, 3, 4]
    assert not qr.exceptions_raised
    with pytest.raises(ValueError, match="No default session"):
        sf.train.start_queue_runners()
