"""The PyTorch peer of candlelab's LSTM bench: the same network (LSTM(units) over windows of seq_len
rows, the last hidden state into a 3-class linear layer), the same data shape, Adam and cross-entropy,
mini-batches of windows cut from one feature matrix (unfold: a view, not a copy per window).

usage: /usr/bin/python3 lstm_torch.py <samples> <seq_len> <features> <units> <batch_size> <epochs> <threads>
prints one JSON line: {"torch", "threads", "samples", "seconds_per_epoch", "cpu_seconds_per_epoch", "final_loss"}
(cpu: process CPU time, all threads, so a figure less disturbed by other processes on a busy machine)
exit code 2 with a one-line message when torch is missing (Debian: apt-get install python3-torch).
"""
import json
import sys
import time

try:
    import numpy as np
    import torch
    from torch import nn
except ImportError as error:
    print(f"PyTorch is not installed ({error}); install it with: apt-get install --no-install-recommends python3-torch", file=sys.stderr)
    sys.exit(2)


class LstmClassifier(nn.Module):
    def __init__(self, features: int, units: int, classes: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(features, units, batch_first=True)
        self.out = nn.Linear(units, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (hidden, _) = self.lstm(x)
        return self.out(hidden[-1])


def main() -> None:
    samples, seq_len, features, units, batch_size, epochs, threads = (int(v) for v in sys.argv[1:8])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    rng = np.random.default_rng(1)
    rows = samples + seq_len - 1
    data = torch.from_numpy(rng.standard_normal((rows, features), dtype=np.float32))
    labels = torch.from_numpy(rng.integers(0, 3, rows))
    windows = data.unfold(0, seq_len, 1).permute(0, 2, 1)  # [samples, seq_len, features], a view
    targets = labels[seq_len - 1 :]
    model = LstmClassifier(features, units, 3)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    # warm-up (not timed): the first steps allocate and pick kernels; the tfjs side warms up the same way
    for start in range(0, min(samples, 4 * batch_size), batch_size):
        index = torch.arange(start, min(samples, start + batch_size))
        optimizer.zero_grad()
        loss_fn(model(windows[index].contiguous()), targets[index]).backward()
        optimizer.step()
    started = time.perf_counter()
    cpu_started = time.process_time()
    loss = torch.tensor(0.0)
    for _ in range(epochs):
        order = torch.randperm(samples)
        for start in range(0, samples, batch_size):
            index = order[start : start + batch_size]
            x = windows[index].contiguous()
            optimizer.zero_grad()
            loss = loss_fn(model(x), targets[index])
            loss.backward()
            optimizer.step()
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    print(json.dumps({"torch": torch.__version__, "threads": threads, "samples": samples, "seconds_per_epoch": seconds / epochs, "cpu_seconds_per_epoch": cpu_seconds / epochs, "final_loss": float(loss)}))


if __name__ == "__main__":
    main()
