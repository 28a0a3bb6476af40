"""CuPy on the GPU: an ElementwiseKernel checked against NumPy. One RESULT line."""
import sys

import numpy as np

PROGRAM = "cupy"


def main():
    import cupy

    kernel = cupy.ElementwiseKernel("float32 x, float32 y", "float32 z", "z = x * x + 2 * y", "square_plus_twice")
    x = np.arange(1 << 20, dtype=np.float32) % 100
    y = np.full_like(x, 3.0)
    got = cupy.asnumpy(kernel(cupy.asarray(x), cupy.asarray(y)))
    if not np.array_equal(got, x * x + 2 * y):
        print(f"RESULT {PROGRAM} FAIL kernel result differs from NumPy's")
        return 1
    name = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
    print(f"RESULT {PROGRAM} ok cupy={cupy.__version__} device=\"{name}\"")
    return 0


if __name__ == "__main__":
    sys.exit(main())
