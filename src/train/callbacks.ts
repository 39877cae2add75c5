// Early stopping and learning-rate reduction on a plateau, as small state machines the training loop
// drives once per epoch (tfjs has no ReduceLROnPlateau; its EarlyStopping does not restore weights).
// Their state is plain data so checkpoints can save and resume it.

export interface EarlyStoppingState {
  best: number;
  bestEpoch: number;
  wait: number;
}

export interface EarlyStoppingOptions {
  /** Epochs without improvement before stopping. */
  patience: number;
  /** Smallest decrease of the monitored loss that counts as an improvement. */
  minDelta: number;
}

export type EarlyStoppingDecision = 'improved' | 'waiting' | 'stop';

export class EarlyStopping {
  state: EarlyStoppingState = { best: Infinity, bestEpoch: -1, wait: 0 };

  constructor(private readonly options: EarlyStoppingOptions) {
    if (!Number.isInteger(options.patience) || options.patience < 1) throw new Error(`patience must be a positive integer, got ${options.patience}`);
    if (!(options.minDelta >= 0)) throw new Error(`minDelta must be >= 0, got ${options.minDelta}`);
  }

  /** 'improved': save these weights as the best; 'stop': restore the best and end training. */
  update(epoch: number, loss: number): EarlyStoppingDecision {
    if (!Number.isFinite(loss)) return this.wait();
    if (loss < this.state.best - this.options.minDelta) {
      this.state = { best: loss, bestEpoch: epoch, wait: 0 };
      return 'improved';
    }
    return this.wait();
  }

  private wait(): EarlyStoppingDecision {
    this.state.wait++;
    return this.state.wait >= this.options.patience ? 'stop' : 'waiting';
  }
}

export interface PlateauOptions {
  /** Epochs without improvement before the rate is cut. */
  patience: number;
  /** New rate = rate * factor. */
  factor: number;
  minLr: number;
  minDelta: number;
  /** Epochs after a cut before counting again. */
  cooldown: number;
}

export interface PlateauState {
  best: number;
  wait: number;
  cooldownLeft: number;
  lr: number;
}

export class ReduceLrOnPlateau {
  state: PlateauState;

  constructor(private readonly options: PlateauOptions, initialLr: number) {
    if (!(options.factor > 0 && options.factor < 1)) throw new Error(`lr factor must be in (0, 1), got ${options.factor}`);
    if (!Number.isInteger(options.patience) || options.patience < 1) throw new Error(`lr patience must be a positive integer, got ${options.patience}`);
    if (!(options.minLr >= 0) || !(initialLr > 0)) throw new Error('learning rates must be positive (min-lr >= 0)');
    this.state = { best: Infinity, wait: 0, cooldownLeft: 0, lr: initialLr };
  }

  /** The learning rate to use from the next epoch on. */
  update(loss: number): number {
    if (this.state.cooldownLeft > 0) {
      this.state.cooldownLeft--;
      this.state.wait = 0;
    }
    if (Number.isFinite(loss) && loss < this.state.best - this.options.minDelta) {
      this.state.best = loss;
      this.state.wait = 0;
    } else if (this.state.cooldownLeft === 0) {
      this.state.wait++;
      if (this.state.wait >= this.options.patience && this.state.lr > this.options.minLr) {
        this.state.lr = Math.max(this.options.minLr, this.state.lr * this.options.factor);
        this.state.wait = 0;
        this.state.cooldownLeft = this.options.cooldown;
      }
    }
    return this.state.lr;
  }
}
