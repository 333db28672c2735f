"""TF1's queue pipeline on a CSV file: string_input_producer, TextLineReader, decode_csv, batch
(one thread, no shuffling, so the order is defined), queue runners and a coordinator."""

import os
import tempfile

import numpy as np


def program(tf) -> dict:
    rng = np.random.default_rng(11)
    rows = rng.integers(-50, 50, (9, 3))
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "data.csv")
        with open(path, "w") as f:
            f.write("a,b,name\n")
            for i, r in enumerate(rows):
                f.write(f"{r[0]},{r[1] / 4},row{i}\n")
        with tf.Graph().as_default():
            producer = tf.train.string_input_producer([path], num_epochs=2, shuffle=False)
            key, line = tf.TextLineReader(skip_header_lines=1).read(producer)
            a, b, name = tf.decode_csv(line, [[0], [0.0], ["none"]])
            batch = tf.train.batch([a, b, name], 4, num_threads=1, allow_smaller_final_batch=True)
            q = tf.FIFOQueue(10, [tf.int32, tf.float32], shapes=[[], [2]])
            enq = q.enqueue_many([tf.range(6), tf.reshape(tf.range(12.0), [6, 2])])
            deq = q.dequeue_many(4)
            with tf.Session() as sess:
                sess.run(tf.local_variables_initializer())
                coord = tf.train.Coordinator()
                threads = tf.train.start_queue_runners(sess=sess, coord=coord)
                got = []
                try:
                    while not coord.should_stop():
                        got.append(sess.run(batch))
                except tf.errors.OutOfRangeError:
                    pass
                finally:
                    coord.request_stop()
                coord.join(threads)
                sess.run(enq)
                q_ints, q_floats = sess.run(deq)
                size_after = sess.run(q.size())
    names = np.concatenate([g[2] for g in got])
    return {
        "a": np.concatenate([g[0] for g in got]),
        "b": np.concatenate([g[1] for g in got]),
        "name_lengths": np.array([len(n) for n in names]),
        "name_digits": np.array([int(n[3:]) for n in names]),
        "batch_sizes": np.array([len(g[0]) for g in got]),
        "queue_ints": q_ints,
        "queue_floats": q_floats,
        "queue_size_after": np.array(size_after),
    }
