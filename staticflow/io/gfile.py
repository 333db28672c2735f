"""sf.io.gfile: TF's file API under its lower-case names (tf.io.gfile), the same
functions as sf.gfile."""

from os.path import join

from staticflow.gfile import Copy as copy
from staticflow.gfile import DeleteRecursively as rmtree
from staticflow.gfile import Exists as exists
from staticflow.gfile import GFile
from staticflow.gfile import Glob as glob
from staticflow.gfile import IsDirectory as isdir
from staticflow.gfile import ListDirectory as listdir
from staticflow.gfile import MakeDirs as makedirs
from staticflow.gfile import MkDir as mkdir
from staticflow.gfile import Remove as remove
from staticflow.gfile import Rename as rename
from staticflow.gfile import Stat as stat
from staticflow.gfile import Walk as walk

__all__ = [
    "GFile",
    "copy",
    "exists",
    "glob",
    "isdir",
    "join",
    "listdir",
    "makedirs",
    "mkdir",
    "remove",
    "rename",
    "rmtree",
    "stat",
    "walk",
]
