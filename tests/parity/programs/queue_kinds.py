"""TF1's queues driven by hand (no queue runners): FIFOQueue's enqueue, dequeue, dequeue_many,
dequeue_up_to, size, close and is_closed; PaddingFIFOQueue's padded batches; RandomShuffleQueue
(its order is random under both engines, so only what it hands out is compared, sorted)."""

import numpy as np


def _out_of_range(sess, fetch) -> int:
    """1 when running `fetch` raises OutOfRangeError (a closed, drained queue), else 0."""
    try:
        sess.run(fetch)
    except Exception as e:  # tf.errors.OutOfRangeError under either engine
        if type(e).__name__ != "OutOfRangeError":
            raise
        return 1
    return 0


def program(tf) -> dict:
    rng = np.random.default_rng(5)
    rows = rng.integers(-9, 9, (6, 2)).astype(np.int32)
    out = {}
    with tf.Graph().as_default():
        q = tf.FIFOQueue(8, [tf.int32, tf.string], shapes=[[2], []])
        x = tf.placeholder(tf.int32, [2])
        s = tf.placeholder(tf.string, [])
        enqueue = q.enqueue([x, s])
        one = q.dequeue()
        many = q.dequeue_many(2)
        up_to = q.dequeue_up_to(5)
        size, closed, close = q.size(), q.is_closed(), q.close()
        out["dequeue_many_static_shape"] = np.array([-1 if d is None else d for d in many[0].shape.as_list()])

        pq = tf.PaddingFIFOQueue(4, [tf.int64, tf.float32], shapes=[[None], [2]])
        v = tf.placeholder(tf.int64, [None])
        w = tf.placeholder(tf.float32, [2])
        p_enqueue = pq.enqueue([v, w])
        p_many = pq.dequeue_many(3)

        rq = tf.RandomShuffleQueue(20, 5, [tf.int32, tf.float32], shapes=[[], [3]], seed=7)
        r_enqueue = rq.enqueue_many([tf.range(20), tf.reshape(tf.range(60.0), [20, 3])])
        r_many = rq.dequeue_many(15)
        r_size, r_close, r_rest = rq.size(), rq.close(), rq.dequeue_up_to(10)

        with tf.Session() as sess:
            for i, r in enumerate(rows):
                sess.run(enqueue, {x: r, s: f"row{i}"})
            sizes = [sess.run(size)]
            first = sess.run(one)
            pair = sess.run(many)
            sizes.append(sess.run(size))
            open_before = sess.run(closed)
            sess.run(close)
            rest = sess.run(up_to)  # three left, fewer than asked: a closed queue gives them
            out["fifo_sizes"] = np.array(sizes)
            out["fifo_closed"] = np.array([open_before, sess.run(closed)])
            out["fifo_ints"] = np.concatenate([first[0][None], pair[0], rest[0]])
            out["fifo_strings"] = np.concatenate([np.array([first[1]], object), pair[1], rest[1]])
            out["fifo_drained_error"] = np.array(_out_of_range(sess, one))

            for n in (3, 1, 0):
                sess.run(p_enqueue, {v: np.arange(1, n + 1), w: [n, -n]})
            padded, floats = sess.run(p_many)
            out["padded"], out["padded_floats"] = padded, floats

            sess.run(r_enqueue)
            ints, vecs = sess.run(r_many)
            left = sess.run(r_size)
            sess.run(r_close)
            more_ints, more_vecs = sess.run(r_rest)
            out["shuffle_left"] = np.array(left)
            all_ints = np.concatenate([ints, more_ints])
            order = np.argsort(all_ints)
            out["shuffle_sorted_ints"] = all_ints[order]
            out["shuffle_rows_follow_ints"] = np.concatenate([vecs, more_vecs])[order]
            out["shuffle_drained_error"] = np.array(_out_of_range(sess, r_rest))
    return out
