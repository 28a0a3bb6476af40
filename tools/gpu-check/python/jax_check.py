"""JAX on the GPU: a jitted function checked against NumPy. One RESULT line."""
import sys

import numpy as np

PROGRAM = "jax"


def main():
    import jax
    import jax.numpy as jnp

    # Full float32 matmuls: TF32 would miss the NumPy comparison's tolerance.
    jax.config.update("jax_default_matmul_precision", "highest")

    gpus = [d for d in jax.devices() if d.platform == "gpu"]
    if not gpus:
        print(f"RESULT {PROGRAM} FAIL no GPU device (devices: {jax.devices()})")
        return 1

    @jax.jit
    def f(x, w):
        return jnp.tanh(x @ w).sum(axis=0)

    rng = np.random.default_rng(0)
    x = rng.standard_normal((512, 256), dtype=np.float32)
    w = rng.standard_normal((256, 128), dtype=np.float32)
    got = np.asarray(f(x, w))
    expected = np.tanh(x @ w).sum(axis=0)
    if not np.allclose(got, expected, rtol=1e-2, atol=1e-1):
        print(f"RESULT {PROGRAM} FAIL jit result differs from NumPy's")
        return 1
    print(f"RESULT {PROGRAM} ok jax={jax.__version__} device=\"{gpus[0].device_kind}\"")
    return 0


if __name__ == "__main__":
    sys.exit(main())
