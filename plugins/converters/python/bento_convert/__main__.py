import sys

from . import keras, pytorch, sklearn
from .common import main

sys.exit(main({"pytorch": pytorch.convert, "sklearn": sklearn.convert, "keras": keras.convert, "tensorflow": keras.convert}))
