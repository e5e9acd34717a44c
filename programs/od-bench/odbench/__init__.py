"""od-bench: the MLPerf Inference object-detection benchmark harness.

A re-implementation of the MLCommons reference ``vision/classification_and_detection``
(SSD-MobileNet, SSD-ResNet34 on COCO) and ``automotive/2d-object-detection`` (SSD-ResNet50 on
Cognata) on the PyPI ``mlcommons-loadgen`` package. Run it as ``python -m odbench``; see
``docs/od-bench.md``. Heavy modules (numpy, cv2, onnxruntime, torch, loadgen) are imported
lazily by the modules that need them.
"""

__version__ = "0.1.0"
