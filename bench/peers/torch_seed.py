#!/usr/bin/env python3
"""Benchmark peer: the `seed` preset model in PyTorch (CPU, or CUDA with --device cuda), trained on random data.

Prints ONE JSON line on stdout:
  {"peer":"pytorch","version":"<torch>","threads":N,"batch":B,"params":798760,
   "samplesPerSecond":X,"recurrentActivation":"sigmoid","device":"cpu" or the GPU's name}
Everything else (the parameter breakdown, notes) goes to stderr.
Exit codes: 0 ok, 1 error, 2 bad arguments, 3 PyTorch/numpy not importable.

The same model as keras_seed.py (see there), written for PyTorch:
  - Input is NHWC [B, 301, 40, 1] as in Keras. forward() views it as NCHW with permute(0, 3, 1, 2), which is
    exactly PyTorch's channels_last memory format, so no copy is made; by default the conv stack runs in
    channels_last (oneDNN's preferred layout; --no-channels-last to use plain NCHW contiguous; no measurable
    difference on the 2-core dev VM).
  - After the conv blocks ([B, 128, 37, 5] logically) the tensor is permuted to [B, 37, 5, 128] and reshaped to
    [B, 37, 640], so feature index = freq*128 + channel, as TF's reshape of NHWC gives.
  - BatchNorm2d(momentum=0.01 [= 1 - Keras's 0.99], eps=1e-3); he_normal = truncated normal, std sqrt(2/fan_in).
  - nn.LSTM(bidirectional, batch_first) is PyTorch's fused CPU LSTM; its gate activation is fixed to sigmoid
    (a hard-sigmoid LSTM would need a Python-level time loop, far slower), so "recurrentActivation" is
    "sigmoid" here while the Keras/tfjs models use hardSigmoid.
  - Debian's torch (1.13, BLAS_INFO=generic) runs its matmuls on whatever libblas.so.3 is selected; setup.sh
    installs libopenblas0-openmp so that it is OpenBLAS, not the netlib reference BLAS (~2.5x slower here).
  - Adam(lr 1e-3, eps 1e-7 as Keras); cross-entropy on soft targets. The model's head is Dense(8) + softmax; the
    loss is taken with log_softmax on the Dense output, the numerically stable form of CE(softmax(z)).

Parameter count, made comparable to Keras's count_params():
  - nn.LSTM carries two gate biases (bias_ih and bias_hh); Keras's LSTM has one. bias_hh is kept at zero and
    frozen (requires_grad False) so the trained function matches Keras's, and it is not counted.
  - Keras counts BatchNormalization's moving mean/variance as (non-trainable) weights; PyTorch keeps them as
    buffers (running_mean/running_var), which are counted here (num_batches_tracked, a counter, is not).
  Total = trainable parameters + BN running statistics = 798,760.
"""
import math
import os
import sys
import time

from peer_common import (ATTENTION_UNITS, CLASSES, COEFFS, DROPOUT, EXPECTED_PARAMS, FILTERS, FRAMES, LSTM_UNITS,
                         argument_parser, emit, parse_checked, redirect_stdout_to_stderr, run_peer)

PEER = "pytorch"


def parse_args(argv):
    p = argument_parser(__doc__.split("\n")[0], "untimed steps first")
    p.add_argument("--no-channels-last", dest="channels_last", action="store_false",
                   help="run the conv stack in contiguous NCHW instead of channels_last")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                   help="cuda: the model, batch and optimiser on GPU 0 (cuDNN's convolutions and LSTM); the GPU "
                        "check (bench/gpu/check.sh) runs it so")
    return parse_checked(p, argv)


def main(argv):
    args = parse_args(argv)
    out_fd = redirect_stdout_to_stderr()

    # Thread pools read these at start-up; torch.set_num_threads below is the authoritative setting.
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    os.environ["MKL_NUM_THREADS"] = str(args.threads)
    os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
    try:
        import numpy as np
        import torch
        from torch import nn
        import torch.nn.functional as F
    except Exception as e:  # ImportError, or a broken install (e.g. numpy ABI mismatch) failing at import
        print(f"{PEER}: PyTorch not importable with {sys.executable}: {type(e).__name__}: {e}".replace("\n", " "),
              file=sys.stderr)
        return 3

    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set (only possible once per process)
        pass
    torch.manual_seed(args.seed)

    def he_normal_(w):
        fan_in = w[0].numel()  # in_channels * kh * kw
        std = math.sqrt(2.0 / fan_in)
        with torch.no_grad():
            nn.init.trunc_normal_(w, mean=0.0, std=std, a=-2 * std, b=2 * std)

    class AttentionPooling(nn.Module):
        """score_t = v . tanh(W h_t + b); alpha = softmax over time; out = sum_t alpha_t h_t."""

        def __init__(self, dim, units):
            super().__init__()
            self.w = nn.Linear(dim, units, bias=True)
            self.v = nn.Linear(units, 1, bias=False)
            nn.init.xavier_uniform_(self.w.weight)
            nn.init.zeros_(self.w.bias)
            nn.init.xavier_uniform_(self.v.weight)

        def forward(self, h):  # [B, T, D]
            alpha = torch.softmax(self.v(torch.tanh(self.w(h))), dim=1)  # [B, T, 1]
            return (alpha * h).sum(dim=1)  # [B, D]

    class Seed(nn.Module):
        def __init__(self, channels_last):
            super().__init__()
            self.channels_last = channels_last
            blocks = []
            cin = 1
            for f in FILTERS:
                conv = nn.Conv2d(cin, f, 3, padding=1, bias=False)
                he_normal_(conv.weight)
                blocks += [conv, nn.BatchNorm2d(f, eps=1e-3, momentum=0.01), nn.ReLU(),
                           nn.MaxPool2d(2, 2), nn.Dropout(DROPOUT)]
                cin = f
            self.convs = nn.Sequential(*blocks)
            t, fq = FRAMES, COEFFS
            for _ in FILTERS:
                t, fq = t // 2, fq // 2
            self.time_steps, self.freq = t, fq  # 37, 5
            self.lstm = nn.LSTM(fq * FILTERS[-1], LSTM_UNITS, batch_first=True, bidirectional=True, bias=True)
            for name, p in self.lstm.named_parameters():
                if name.startswith("weight_ih"):
                    for g in p.data.chunk(4, 0):  # per-gate glorot_uniform as Keras's kernel (roughly)
                        nn.init.xavier_uniform_(g)
                elif name.startswith("weight_hh"):
                    for g in p.data.chunk(4, 0):  # per-gate orthogonal as Keras's recurrent kernel
                        nn.init.orthogonal_(g)
                elif name.startswith("bias_ih"):
                    nn.init.zeros_(p)
                    p.data[LSTM_UNITS:2 * LSTM_UNITS] = 1.0  # unit_forget_bias (gate order i, f, g, o)
                elif name.startswith("bias_hh"):
                    nn.init.zeros_(p)
                    p.requires_grad_(False)  # Keras's LSTM has a single bias: keep this one at zero
            self.attention = AttentionPooling(2 * LSTM_UNITS, ATTENTION_UNITS)
            self.dropout = nn.Dropout(DROPOUT)
            self.dense = nn.Linear(2 * LSTM_UNITS, CLASSES)
            nn.init.xavier_uniform_(self.dense.weight)
            nn.init.zeros_(self.dense.bias)

        def logits(self, x_nhwc):  # [B, 301, 40, 1]
            x = x_nhwc.permute(0, 3, 1, 2)  # NCHW view of NHWC memory = channels_last
            if not self.channels_last:
                x = x.contiguous()
            x = self.convs(x)  # [B, 128, 37, 5]
            b = x.shape[0]
            x = x.permute(0, 2, 3, 1).reshape(b, self.time_steps, -1)  # [B, 37, 5*128], index freq*128+ch
            h, _ = self.lstm(x)  # [B, 37, 224]
            return self.dense(self.dropout(self.attention(h)))

        def forward(self, x_nhwc):
            return torch.softmax(self.logits(x_nhwc), dim=-1)

    if args.device == "cuda" and not torch.cuda.is_available():
        print(f"{PEER}: --device cuda but torch.cuda.is_available() is False", file=sys.stderr)
        return 1
    device = torch.device(args.device)
    model = Seed(args.channels_last)
    if args.channels_last:
        model.convs = model.convs.to(memory_format=torch.channels_last)
    model = model.to(device)
    model.train()

    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    bn_stats = sum(m.running_mean.numel() + m.running_var.numel()
                   for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    frozen_hh = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    params = trainable + bn_stats
    print(f"{PEER}: params {params} (trainable {trainable}, BN running stats {bn_stats}; "
          f"not counted: frozen zero LSTM bias_hh {frozen_hh}); torch threads {torch.get_num_threads()}, "
          f"interop {torch.get_num_interop_threads()}, channels_last {args.channels_last}", file=sys.stderr)
    if params != EXPECTED_PARAMS:
        print(f"{PEER}: model has {params} parameters, expected {EXPECTED_PARAMS}", file=sys.stderr)
        return 1

    rng = np.random.default_rng(args.seed)
    xs = torch.from_numpy(rng.standard_normal((args.batch, FRAMES, COEFFS, 1), dtype=np.float32)).to(device)
    ys = torch.from_numpy(rng.dirichlet(np.ones(CLASSES), size=args.batch).astype(np.float32)).to(device)  # soft targets

    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3, eps=1e-7)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = -(ys * F.log_softmax(model.logits(xs), dim=-1)).sum(dim=-1).mean()
        loss.backward()
        optimizer.step()
        return float(loss.item())

    def synchronize():
        if device.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(args.warmup):
        step()
    synchronize()
    loss = 0.0
    t0 = time.perf_counter()
    for _ in range(args.steps):
        loss = step()  # .item() waits for the step, so each step is timed whole on the GPU too
    synchronize()
    elapsed = time.perf_counter() - t0
    if not (loss == loss):  # NaN
        print(f"{PEER}: loss is NaN", file=sys.stderr)
        return 1

    print(f"{PEER}: {args.steps} steps in {elapsed:.3f} s, last loss {loss:.4f}", file=sys.stderr)
    emit(out_fd, {
        "peer": PEER,
        "version": torch.__version__,
        "threads": args.threads,
        "batch": args.batch,
        "params": params,
        "samplesPerSecond": args.batch * args.steps / elapsed,
        "recurrentActivation": "sigmoid",
        "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
    })
    return 0


if __name__ == "__main__":
    run_peer(PEER, main)
