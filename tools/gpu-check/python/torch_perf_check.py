"""PyTorch's speed, for the check's "cost" section (scripts/gpu-check.sh),
which runs it natively and under nvgate: training steps per second of a small
CNN on batches already on the GPU, and the TFLOP/s of a bf16 8192x8192 matmul.
Each is the median of timed repetitions after warm-up, synchronised around
every repetition. One RESULT line."""
import statistics
import sys
import time

import torch

PROGRAM = "torch_perf"
BATCH = 256
WARMUP_STEPS = 10
TIMED_STEPS = 100
MATMUL_SIZE = 8192
MATMUL_WARMUPS = 3
MATMUL_REPEATS = 10


def training_steps_per_second(device):
    torch.manual_seed(0)
    images = torch.randn(BATCH, 3, 32, 32, device=device)
    labels = torch.randint(0, 10, (BATCH,), device=device)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(64 * 8 * 8, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10),
    ).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(images), labels).backward()
        optimizer.step()

    # Warm-up pays for cuDNN's algorithm choice and the allocator's first blocks.
    for _ in range(WARMUP_STEPS):
        step()
    torch.cuda.synchronize()
    seconds = []
    for _ in range(TIMED_STEPS):
        started = time.perf_counter()
        step()
        torch.cuda.synchronize()
        seconds.append(time.perf_counter() - started)
    return 1.0 / statistics.median(seconds)


def matmul_tflops(device):
    a = torch.randn(MATMUL_SIZE, MATMUL_SIZE, device=device, dtype=torch.bfloat16)
    b = torch.randn(MATMUL_SIZE, MATMUL_SIZE, device=device, dtype=torch.bfloat16)
    for _ in range(MATMUL_WARMUPS):
        a @ b
    seconds = []
    for _ in range(MATMUL_REPEATS):
        torch.cuda.synchronize()
        started = time.perf_counter()
        a @ b
        torch.cuda.synchronize()
        seconds.append(time.perf_counter() - started)
    return 2 * MATMUL_SIZE ** 3 / statistics.median(seconds) / 1e12


def main():
    if not torch.cuda.is_available():
        print(f"RESULT {PROGRAM} FAIL torch.cuda.is_available() is False")
        return 1
    device = torch.device("cuda")
    steps_per_s = training_steps_per_second(device)
    tflops = matmul_tflops(device)
    print(f"RESULT {PROGRAM} ok steps_per_s={steps_per_s:.1f} matmul_tflops={tflops:.1f} "
          f"torch={torch.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
