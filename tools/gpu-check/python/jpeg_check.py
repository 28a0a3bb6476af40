"""JPEG decode on the GPU with torchvision (nvJPEG): images made here and
encoded on the CPU, decoded one at a time and as a batch (the path where nvJPEG
may use the GPU's JPEG engine, NVJPG on Hopper), each compared with the CPU's
decode. One RESULT line; a decode that raises is reported with its message."""
import sys
import time

import numpy as np
import torch
import torchvision
from torchvision.io import decode_jpeg, encode_jpeg

PROGRAM = "jpeg"
# nvJPEG and libjpeg-turbo round the IDCT and upsample chroma differently:
# torchvision's own test of the CUDA decode allows a mean of 2 levels per
# pixel (test/test_image.py, test_decode_jpegs_cuda); a wrong decode is tens.
MAX_MEAN_ABS_DIFF = 2.0


def test_images():
    """Gradients with a little noise (strong noise would make the decoders'
    chroma upsampling differ more than their rounding), of a few sizes, odd
    ones included, as CHW uint8."""
    rng = np.random.default_rng(0)
    images = []
    for height, width in ((256, 256), (480, 640), (1080, 1920), (333, 517)):
        y, x = np.mgrid[0:height, 0:width]
        gradient = np.stack([255 * x / width, 255 * y / height, 255 * (x + y) / (width + height)])
        noise = rng.normal(0, 4, size=(3, height, width))
        images.append(torch.from_numpy(np.clip(gradient + noise, 0, 255).astype(np.uint8)))
    return images


def difference(on_gpu, on_cpu):
    diff = (on_gpu.cpu().float() - on_cpu.float()).abs()
    return diff.mean().item(), int(diff.max().item())


def main():
    if not torch.cuda.is_available():
        print(f"RESULT {PROGRAM} FAIL torch.cuda.is_available() is False")
        return 1
    encoded = [encode_jpeg(image, quality=90) for image in test_images()]
    on_cpu = [decode_jpeg(data) for data in encoded]
    versions = f"torch={torch.__version__} torchvision={torchvision.__version__}"

    stage = "single decode"
    try:
        started = time.perf_counter()
        single = [decode_jpeg(data, device="cuda") for data in encoded]
        torch.cuda.synchronize()
        single_ms = 1000 * (time.perf_counter() - started)
        # Eight of each: a batch large enough that nvJPEG's batched decoder may
        # hand it to the hardware engine.
        stage = "batched decode"
        batch = encoded * 8
        started = time.perf_counter()
        batched = decode_jpeg(batch, device="cuda")
        torch.cuda.synchronize()
        batched_ms = 1000 * (time.perf_counter() - started)
    except Exception as e:  # the library's own message is the result
        message = " ".join(str(e).split())[:200]
        print(f"RESULT {PROGRAM} FAIL {stage} raised {type(e).__name__}: {message} {versions}")
        return 1

    worst_mean, worst_max = 0.0, 0
    for name, decoded, reference in (("single", single, on_cpu), ("batched", batched, on_cpu * 8)):
        if len(decoded) != len(reference):
            print(f"RESULT {PROGRAM} FAIL {name} decode gave {len(decoded)} images for {len(reference)}")
            return 1
        for i, (gpu_image, cpu_image) in enumerate(zip(decoded, reference)):
            if gpu_image.shape != cpu_image.shape or gpu_image.device.type != "cuda":
                print(f"RESULT {PROGRAM} FAIL {name} image {i}: {tuple(gpu_image.shape)} on "
                      f"{gpu_image.device}, CPU decode {tuple(cpu_image.shape)}")
                return 1
            mean, largest = difference(gpu_image, cpu_image)
            if mean > MAX_MEAN_ABS_DIFF:
                print(f"RESULT {PROGRAM} FAIL {name} image {i} differs from the CPU decode: mean abs diff "
                      f"{mean:.2f}, max {largest}")
                return 1
            worst_mean, worst_max = max(worst_mean, mean), max(worst_max, largest)
    print(f"RESULT {PROGRAM} ok {versions} images={len(encoded)} batch={len(batch)} single_ms={single_ms:.1f} "
          f"batched_ms={batched_ms:.1f} mean_abs_diff={worst_mean:.2f} max_abs_diff={worst_max}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
