"""torchaudio peer for the long-recording bench: load a WAV (or each WAV of a folder), resample to
16 kHz and take MFCC with the project's default definition (40 of 64 Slaney mels, 512-point FFT,
25 ms windows every 10 ms, centred, dB with an 80 dB floor), on one thread. Prints one JSON line:
seconds of audio, seconds of compute (after the imports), peak RSS. Exit 3 when torchaudio is missing."""
import argparse
import json
import os
import resource
import sys
import time


def main(argv):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("path", help="a WAV file, or a folder of WAV files (each processed as one clip)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--warmup-passes", type=int, default=0,
                   help="process the folder this many times untimed first (a long-running process's steady state)")
    a = p.parse_args(argv)
    try:
        import torch
        import torchaudio
    except ImportError as e:
        print(f"torchaudio_mfcc: torchaudio is not importable: {e}", file=sys.stderr)
        return 3
    torch.set_num_threads(a.threads)
    mfcc = torchaudio.transforms.MFCC(
        sample_rate=16000, n_mfcc=40, log_mels=False,
        melkwargs=dict(n_fft=512, win_length=400, hop_length=160, n_mels=64, f_min=0.0, f_max=8000.0,
                       center=True, pad_mode="constant", power=2.0, norm="slaney", mel_scale="slaney"),
    )
    files = sorted(os.path.join(a.path, f) for f in os.listdir(a.path) if f.endswith(".wav")) if os.path.isdir(a.path) else [a.path]
    resamplers = {}

    def one_pass():
        audio_seconds = 0.0
        frames = 0
        with torch.inference_mode():
            for f in files:
                waveform, rate = torchaudio.load(f)
                mono = waveform.mean(dim=0)
                audio_seconds += mono.shape[0] / rate
                if rate != 16000:
                    if rate not in resamplers:
                        resamplers[rate] = torchaudio.transforms.Resample(rate, 16000)
                    mono = resamplers[rate](mono)
                frames += mfcc(mono).shape[-1]
        return audio_seconds, frames

    for _ in range(a.warmup_passes):
        one_pass()
    started = time.perf_counter()
    audio_seconds, frames = one_pass()
    seconds = time.perf_counter() - started
    print(json.dumps({
        "peer": "torchaudio", "version": torchaudio.__version__, "torch": torch.__version__, "threads": a.threads, "warmupPasses": a.warmup_passes,
        "files": len(files), "audioSeconds": audio_seconds, "seconds": seconds, "frames": frames,
        "peakRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
