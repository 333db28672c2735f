"""Convolutional networks on scikit-learn's digits, TensorFlow 1.x style.

`--model lenet` (default): a LeNet-5-style network -- two convolution and
max-pooling stages, then three dense layers -- on the 8x8 digits upsampled
to 16x16. `--model resnet`: a small residual network -- a convolution stem,
two residual blocks of (conv, batch norm, relu) with identity shortcuts,
global average pooling -- whose batch-norm moving averages are updated
through the UPDATE_OPS collection, as TF1 code does. Prints held-out accuracy.

Run: ``python examples/cnn_digits.py [--model lenet|resnet] [--epochs N] [--quiet]``
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from tqdm import tqdm

import staticflow as sf
from staticflow.datasets import batches, load_digits_split


def lenet(x, training):
    h = sf.layers.conv2d(x, 6, 5, padding="same", activation=sf.nn.relu, name="conv1")
    h = sf.layers.max_pooling2d(h, 2, 2, name="pool1")  # 8x8
    h = sf.layers.conv2d(h, 16, 5, padding="valid", activation=sf.nn.relu, name="conv2")  # 4x4
    h = sf.layers.max_pooling2d(h, 2, 2, name="pool2")  # 2x2
    h = sf.layers.flatten(h)
    h = sf.layers.dense(h, 120, activation=sf.nn.relu, name="fc1")
    h = sf.layers.dense(h, 84, activation=sf.nn.relu, name="fc2")
    return sf.layers.dense(h, 10, name="logits")


def resnet(x, training):
    def conv_bn(h, name, relu=True):
        h = sf.layers.conv2d(h, 16, 3, padding="same", use_bias=False, name=name)
        h = sf.layers.batch_normalization(h, momentum=0.9, training=training, name=name + "_bn")
        return sf.nn.relu(h) if relu else h

    h = conv_bn(x, "stem")
    for i in range(2):
        skip = h
        h = conv_bn(h, f"block{i}_a")
        h = conv_bn(h, f"block{i}_b", relu=False)
        h = sf.nn.relu(h + skip)
    h = sf.reduce_mean(h, axis=[1, 2])  # global average pooling
    return sf.layers.dense(h, 10, name="logits")


def main(argv=None) -> float:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=["lenet", "resnet"], default="lenet")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    epochs = args.epochs or (20 if args.model == "lenet" else 8)
    x_train, y_train, x_test, y_test = load_digits_split(test_fraction=0.25, seed=0)

    def images(x):  # [N, 64] -> [N, 16, 16, 1], each pixel repeated 2x2
        return np.kron(x.reshape(-1, 8, 8), np.ones((2, 2), np.float32))[..., None]

    x_train, x_test = images(x_train), images(x_test)
    g = sf.Graph()
    with g.as_default():
        sf.set_random_seed(args.seed)
        x = sf.placeholder(sf.float32, [None, 16, 16, 1], name="x")
        y = sf.placeholder(sf.int64, [None], name="y")
        training = sf.placeholder_with_default(False, [], name="training")
        logits = (lenet if args.model == "lenet" else resnet)(x, training)
        loss = sf.reduce_mean(sf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        with sf.control_dependencies(sf.get_collection(sf.GraphKeys.UPDATE_OPS)):
            train_op = sf.train.AdamOptimizer(args.lr).minimize(loss)
        accuracy = sf.reduce_mean(sf.cast(sf.equal(sf.argmax(logits, 1), y), sf.float32))
        rng = np.random.default_rng(args.seed)
        with sf.Session() as sess:
            sess.run(sf.global_variables_initializer())
            bar = tqdm(range(epochs), desc=args.model, unit="epoch", disable=args.quiet, mininterval=0.5)
            for _ in bar:
                for xb, yb in batches(x_train, y_train, args.batch_size, rng):
                    _, lv = sess.run([train_op, loss], {x: xb, y: yb, training: True})
                bar.set_postfix(loss=f"{lv:.4f}")
            acc = float(sess.run(accuracy, {x: x_test, y: y_test}))
    if not args.quiet:
        print(f"{args.model}: held-out accuracy {acc:.2%} on {len(x_test)} digits")
    return acc


if __name__ == "__main__":
    sys.exit(0 if main() > 0 else 1)
