"""tf.layers default names and reuse: build a network twice, the second time reusing its
variables; nested scopes, AUTO_REUSE, name_scope vs variable_scope, layer objects applied
twice, and a captured scope re-entered. Returns the variable names in creation order and
the outputs of both builds."""

import importlib
import types

import numpy as np


def _layers(tf):
    """tf.layers; where TensorFlow (2.16+) routes tf.compat.v1.layers to Keras 3, which has none
    of TF1's layers, TF1's own layer code that TensorFlow still ships."""
    try:
        tf.layers.dense  # noqa: B018 - the attribute access is the test
        return tf.layers
    except AttributeError:
        ns = types.SimpleNamespace()
        for m in ("core", "convolutional", "pooling"):
            mod = importlib.import_module("tensorflow.python.keras.legacy_tf_layers." + m)
            ns.__dict__.update({k: v for k, v in vars(mod).items() if not k.startswith("_")})
        return ns


def program(tf):
    layers = _layers(tf)
    rng = np.random.default_rng(0)
    xv = rng.standard_normal((2, 8, 8, 3)).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 8, 8, 3])

    def init(scale):
        return tf.constant_initializer(scale)

    def net(x):
        h = layers.conv2d(x, 4, 3, activation=tf.nn.relu, kernel_initializer=init(0.05))
        h = layers.max_pooling2d(h, 2, 2)
        h = layers.conv2d(h, 4, 2, padding="same", kernel_initializer=init(-0.03))
        h = layers.conv2d_transpose(h, 2, 3, strides=2, kernel_initializer=init(0.02))
        h = layers.flatten(h)
        h = layers.dense(h, 5, activation=tf.nn.tanh, kernel_initializer=init(0.01))
        return layers.dense(h, 2, kernel_initializer=init(0.1), bias_initializer=init(0.5))

    with tf.variable_scope("model"):
        y1 = net(x)
    with tf.variable_scope("model", reuse=True):
        y2 = net(x)

    flat = tf.reshape(x, [-1, 192])
    with tf.variable_scope("outer"):
        with tf.variable_scope("inner"):
            layers.dense(flat, 3, kernel_initializer=init(0.01))
            layers.dense(flat, 3, kernel_initializer=init(0.01))
        layers.dense(flat, 3, kernel_initializer=init(0.01))
    for _ in range(2):
        with tf.variable_scope("auto", reuse=tf.AUTO_REUSE):
            layers.dense(flat, 3, kernel_initializer=init(0.01))
            layers.dense(flat, 3, kernel_initializer=init(0.01), name="fc")
    with tf.name_scope("ns"):
        layers.dense(flat, 3, kernel_initializer=init(0.01))
    layers.dense(flat, 3, kernel_initializer=init(0.01), name="dense_1")
    layers.dense(flat, 3, kernel_initializer=init(0.01))
    shared = layers.Dense(3, kernel_initializer=init(0.02))
    a = shared(flat)
    b = shared.apply(flat * 2.0)
    with tf.variable_scope("cap") as cap:
        layers.dense(flat, 3, kernel_initializer=init(0.01))
    with tf.variable_scope(cap, reuse=True):
        c = layers.dense(flat, 3, kernel_initializer=init(0.01))

    names = [v.name for v in tf.global_variables()]
    weights = [w.name for w in shared.trainable_weights]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        y1v, y2v, av, bv, cv = sess.run([y1, y2, a, b, c], {x: xv})
    return {
        "variable_names": np.array(names),
        "shared_layer_weights": np.array(weights),
        "y1": y1v,
        "y2": y2v,
        "shared_a": av,
        "shared_b": bv,
        "captured": cv,
    }
