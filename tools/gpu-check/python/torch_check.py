"""PyTorch on the GPU: a matmul checked against the CPU, then a few steps of
a small training loop fed by a DataLoader with pin_memory. One RESULT line."""
import sys
import time

import torch

PROGRAM = "torch"


def main():
    if not torch.cuda.is_available():
        print(f"RESULT {PROGRAM} FAIL torch.cuda.is_available() is False")
        return 1
    device = torch.device("cuda")
    torch.manual_seed(0)
    a = torch.randn(1024, 1024)
    b = torch.randn(1024, 1024)
    on_gpu = (a.to(device) @ b.to(device)).cpu()
    if not torch.allclose(on_gpu, a @ b, rtol=1e-3, atol=1e-2):
        print(f"RESULT {PROGRAM} FAIL matmul differs from the CPU's")
        return 1

    inputs = torch.randn(4096, 64)
    targets = (inputs.sum(dim=1, keepdim=True) > 0).float()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(inputs, targets), batch_size=256,
                                         shuffle=True, pin_memory=True, num_workers=2)
    model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 1)).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    step_times = []
    losses = []
    for epoch in range(2):
        for x, y in loader:
            started = time.perf_counter()
            x = x.to(device, non_blocking=True)
            y = y.to(device, non_blocking=True)
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            step_times.append(time.perf_counter() - started)
    if not losses[-1] < losses[0]:
        print(f"RESULT {PROGRAM} FAIL the loss did not fall ({losses[0]:.3f} -> {losses[-1]:.3f})")
        return 1
    # The first steps pay for CUDA's and cuBLAS's start-up.
    steady = sorted(step_times[5:]) or step_times
    print(f"RESULT {PROGRAM} ok torch={torch.__version__} cuda={torch.version.cuda} "
          f"gpu=\"{torch.cuda.get_device_name(0)}\" steps={len(step_times)} "
          f"median_step_ms={1000 * steady[len(steady) // 2]:.2f} loss={losses[0]:.3f}->{losses[-1]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
