// Early stopping and ReduceLROnPlateau on scripted loss sequences.
import { EarlyStopping, ReduceLrOnPlateau } from '../src/train/callbacks';

test('early stopping: improvements reset the wait; stops after `patience` epochs without one; keeps the best epoch', () => {
  const stopper = new EarlyStopping({ patience: 3, minDelta: 0.01 });
  const losses = [1.0, 0.8, 0.795, 0.7, 0.71, 0.705, 0.69, 0.9, 0.95];
  const decisions = losses.map((loss, epoch) => stopper.update(epoch, loss));
  // 0.795 is within minDelta of 0.8, 0.69 within 0.01 of 0.7: neither counts.
  expect(decisions).toEqual(['improved', 'improved', 'waiting', 'improved', 'waiting', 'waiting', 'stop', 'stop', 'stop']);
  expect(stopper.state.bestEpoch).toBe(3);
  expect(stopper.state.best).toBeCloseTo(0.7, 12);
  expect(new EarlyStopping({ patience: 1, minDelta: 0 }).update(0, NaN)).toBe('stop');
});

test('plateau: cuts the rate by factor after patience, waits out the cooldown, never below min-lr (Keras semantics)', () => {
  const losses = [1, 0.9, 0.95, 0.96, 0.97, 0.98, 0.99, 1.0, 1.01, 1.02, 1.03];
  const run = (cooldown: number) => {
    const plateau = new ReduceLrOnPlateau({ patience: 2, factor: 0.5, minLr: 0.0002, minDelta: 0, cooldown }, 0.001);
    return losses.map((loss) => plateau.update(loss));
  };
  // As in Keras, the cooldown counter drops before the check, so cooldown 1 only resets the wait...
  expect(run(1)).toEqual([0.001, 0.001, 0.001, 0.0005, 0.0005, 0.00025, 0.00025, 0.0002, 0.0002, 0.0002, 0.0002]);
  // ...and cooldown 2 skips one epoch of counting after each cut.
  expect(run(2)).toEqual([0.001, 0.001, 0.001, 0.0005, 0.0005, 0.0005, 0.00025, 0.00025, 0.00025, 0.0002, 0.0002]);
});

test('bad options are refused', () => {
  expect(() => new EarlyStopping({ patience: 0, minDelta: 0 })).toThrow(/patience/);
  expect(() => new ReduceLrOnPlateau({ patience: 1, factor: 1, minLr: 0, minDelta: 0, cooldown: 0 }, 0.001)).toThrow(/factor/);
});
