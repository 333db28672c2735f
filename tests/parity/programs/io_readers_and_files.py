"""TF1's file ops and readers, fed from a filename queue by hand: write_file, read_file,
matching_files; TextLineReader, TFRecordReader, WholeFileReader and IdentityReader with read,
read_up_to, num_records_produced, num_work_units_completed and reset. Files live in a
temporary directory; paths are returned relative to it (the directory differs per run)."""

import os
import tempfile

import numpy as np


def _drain(sess, fetch) -> list:
    out = []
    while True:
        try:
            out.append(sess.run(fetch))
        except Exception as e:  # tf.errors.OutOfRangeError under either engine
            if type(e).__name__ != "OutOfRangeError":
                raise
            return out


def _relative(paths, root: str) -> np.ndarray:
    names = [p.decode() if isinstance(p, bytes) else str(p) for p in np.asarray(paths, object).ravel()]
    return np.array([os.path.relpath(n, root) for n in names], object)


def _filename_queue(tf, names):
    q = tf.FIFOQueue(len(names) + 1, [tf.string], shapes=[[]])
    return q, [q.enqueue_many([list(names)]), q.close()]


def program(tf) -> dict:
    rng = np.random.default_rng(17)
    out = {}
    with tempfile.TemporaryDirectory() as root:
        text = [os.path.join(root, f"part{i}.txt") for i in range(2)]
        lines = [[f"{k}:{v}" for k, v in enumerate(rng.integers(0, 99, n))] for n in (3, 2)]
        records = os.path.join(root, "data.tfrecord")
        payloads = [bytes(rng.integers(0, 256, n).astype(np.uint8)) for n in (0, 5, 12)]
        with tf.python_io.TFRecordWriter(records) as w:
            for p in payloads:
                w.write(p)
        with tf.Graph().as_default():
            contents = tf.placeholder(tf.string, [])
            path = tf.placeholder(tf.string, [])
            write = tf.io.write_file(path, contents)
            read = tf.io.read_file(path)
            matched = tf.io.matching_files(os.path.join(root, "*.txt"))

            tq, t_fill = _filename_queue(tf, text)
            t_reader = tf.TextLineReader()
            t_key, t_value = t_reader.read(tq)
            t_records, t_units = t_reader.num_records_produced(), t_reader.num_work_units_completed()

            rq, r_fill = _filename_queue(tf, [records])
            r_keys, r_values = tf.TFRecordReader().read_up_to(rq, 2)

            wq, w_fill = _filename_queue(tf, text[::-1])
            w_reader = tf.WholeFileReader()
            w_key, w_value = w_reader.read(wq)

            iq, i_fill = _filename_queue(tf, ["alpha", "beta", "gamma"])
            i_reader = tf.IdentityReader()
            i_key, i_value = i_reader.read(iq)
            i_reset = i_reader.reset()
            i_records = i_reader.num_records_produced()

            with tf.Session() as sess:
                for name, body in zip(text, lines):
                    sess.run(write, {path: name, contents: "\n".join(body) + "\n"})
                out["read_file"] = np.array(sess.run(read, {path: text[1]}), object)
                out["matching_files"] = _relative(sess.run(matched), root)

                sess.run(t_fill)
                got = _drain(sess, [t_key, t_value])
                out["text_keys"] = _relative([k.split(b":")[0] for k, _ in got], root)
                out["text_line_numbers"] = np.array([int(k.rsplit(b":", 1)[1]) for k, _ in got])
                out["text_values"] = np.array([v for _, v in got], object)
                out["text_counts"] = np.array(sess.run([t_records, t_units]))

                sess.run(r_fill)
                batches = _drain(sess, [r_keys, r_values])
                out["tfrecord_batch_sizes"] = np.array([len(k) for k, _ in batches])
                out["tfrecord_values"] = np.concatenate([v for _, v in batches]).astype(object)
                out["tfrecord_key_suffixes"] = np.array(
                    [k.rsplit(b":", 1)[1] for b in batches for k in b[0]], object
                )

                sess.run(w_fill)
                whole = _drain(sess, [w_key, w_value])
                out["whole_file_keys"] = _relative([k for k, _ in whole], root)
                out["whole_file_values"] = np.array([v for _, v in whole], object)

                sess.run(i_fill)
                first = sess.run([i_key, i_value])
                before_reset = sess.run(i_records)
                sess.run(i_reset)
                rest = _drain(sess, [i_key, i_value])
                out["identity"] = np.array([first] + rest, object)
                out["identity_counts"] = np.array([before_reset, sess.run(i_records)])
    return out
