"""nce_loss and sampled_softmax_loss with given samples: losses and gradients into the
embedding weights, biases and inputs; one and two true classes, accidental hits removed
or kept, weights whole or split into shards ("mod" and "div")."""

import numpy as np

RTOL = 1e-5
ATOL = 1e-5


def program(tf):
    rng = np.random.default_rng(7)
    num_classes, dim, batch, num_sampled = 12, 5, 4, 6
    w0 = rng.standard_normal((num_classes, dim)).astype(np.float32)
    b0 = rng.standard_normal(num_classes).astype(np.float32) * 0.1
    x0 = rng.standard_normal((batch, dim)).astype(np.float32)
    labels1 = np.array([[1], [5], [3], [11]], np.int64)
    labels2 = np.array([[1, 2], [5, 3], [3, 3], [11, 0]], np.int64)
    # samples with accidental hits (1, 3, 5) and a repeated value (3)
    sampled = np.array([3, 7, 1, 3, 9, 5], np.int64)
    true_ec1 = rng.uniform(0.1, 1.0, (batch, 1)).astype(np.float32)
    true_ec2 = rng.uniform(0.1, 1.0, (batch, 2)).astype(np.float32)
    sampled_ec = rng.uniform(0.1, 1.0, num_sampled).astype(np.float32)

    w = tf.Variable(w0, name="w")
    b = tf.Variable(b0, name="b")
    x = tf.Variable(x0, name="x")
    shards = [tf.Variable(w0[i::3], name=f"w_mod_{i}") for i in range(3)]
    div_shards = [
        tf.Variable(w0[0:4], name="w_div_0"),
        tf.Variable(w0[4:8], name="w_div_1"),
        tf.Variable(w0[8:12], name="w_div_2"),
    ]
    out = {}
    losses = {}
    losses["nce"] = tf.nn.nce_loss(
        w, b, labels1, x, num_sampled, num_classes, sampled_values=(sampled, true_ec1, sampled_ec)
    )
    losses["nce_hits"] = tf.nn.nce_loss(
        w,
        b,
        labels1,
        x,
        num_sampled,
        num_classes,
        sampled_values=(sampled, true_ec1, sampled_ec),
        remove_accidental_hits=True,
    )
    losses["nce_2"] = tf.nn.nce_loss(
        w, b, labels2, x, num_sampled, num_classes, num_true=2, sampled_values=(sampled, true_ec2, sampled_ec)
    )
    losses["ssm"] = tf.nn.sampled_softmax_loss(
        w, b, labels1, x, num_sampled, num_classes, sampled_values=(sampled, true_ec1, sampled_ec)
    )
    losses["ssm_keep"] = tf.nn.sampled_softmax_loss(
        w,
        b,
        labels1,
        x,
        num_sampled,
        num_classes,
        sampled_values=(sampled, true_ec1, sampled_ec),
        remove_accidental_hits=False,
    )
    losses["ssm_2"] = tf.nn.sampled_softmax_loss(
        w, b, labels2, x, num_sampled, num_classes, num_true=2, sampled_values=(sampled, true_ec2, sampled_ec)
    )
    losses["ssm_mod"] = tf.nn.sampled_softmax_loss(
        shards, b, labels1, x, num_sampled, num_classes, sampled_values=(sampled, true_ec1, sampled_ec)
    )
    losses["nce_div"] = tf.nn.nce_loss(
        div_shards,
        b,
        labels2,
        x,
        num_sampled,
        num_classes,
        num_true=2,
        sampled_values=(sampled, true_ec2, sampled_ec),
        partition_strategy="div",
    )
    grads = {}
    for key in ("nce_hits", "ssm", "nce_2"):
        gw, gb, gx = tf.gradients(tf.reduce_sum(losses[key]), [w, b, x])
        grads[key] = tuple(tf.convert_to_tensor(g) for g in (gw, gb, gx))
    gshards = [tf.convert_to_tensor(g) for g in tf.gradients(tf.reduce_sum(losses["ssm_mod"]), shards)]
    gdiv = [tf.convert_to_tensor(g) for g in tf.gradients(tf.reduce_sum(losses["nce_div"]), div_shards)]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        vals = sess.run(losses)
        gvals = sess.run(grads)
        gs = sess.run(gshards)
        gd = sess.run(gdiv)
    out.update(vals)
    for key, (gw, gb, gx) in gvals.items():
        out[f"{key}_dw"] = np.asarray(gw)
        out[f"{key}_db"] = np.asarray(gb)
        out[f"{key}_dx"] = gx
    for i, g in enumerate(gs):
        out[f"ssm_mod_dw{i}"] = np.asarray(g)
    for i, g in enumerate(gd):
        out[f"nce_div_dw{i}"] = np.asarray(g)
    return out
