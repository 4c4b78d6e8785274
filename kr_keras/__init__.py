"""kr_keras: Knowledge Representing (KR) distillation for Keras 3.

Example:

```python
import keras, kr_keras
teacher = kr_keras.models.cifar_resnet(20, input_shape=(28, 28, 1))
student = kr_keras.models.cifar_resnet(8, width_multiplier=0.75,
                                       input_shape=(28, 28, 1))
distiller = kr_keras.KRDistiller(teacher, student, group_size=3)
distiller.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                  auxiliary_optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                  metrics=["accuracy"])
```
"""

from kr_keras import callbacks
from kr_keras import data
from kr_keras import distribute
from kr_keras import distillers
from kr_keras import layers
from kr_keras import losses
from kr_keras import models
from kr_keras import ops
from kr_keras.distillers import KRDistiller
from kr_keras.distillers import build_distiller

__version__ = "0.2.0"

__all__ = [
    "KRDistiller",
    "build_distiller",
    "callbacks",
    "data",
    "distribute",
    "distillers",
    "layers",
    "losses",
    "models",
    "ops",
]
