import { afterEach, describe, expect, it } from 'vitest';
import { TrainingService } from '../../src/worker/training';
import { TINY_SETUP } from './setup';

/**
 * Calls that overlap, as a page sends them: a second click before the first call has answered, a
 * click while the model's lock is held by a save or an evaluation. Whatever the order, one training
 * loop at most runs, Pause stops it, and the status says what the Worker does.
 */
describe('TrainingService with overlapping calls (CPU backend)', () => {
  let service: TrainingService;
  afterEach(() => service.dispose());

  const fresh = async () => {
    service = new TrainingService();
    await service.init(() => {}, { backends: ['cpu'] });
    await service.configure(TINY_SETUP);
  };
  const waitForStep = async (step: number) => {
    for (let i = 0; i < 1000 && service.status().step < step; i++) await new Promise((r) => setTimeout(r, 10));
    expect(service.status().step).toBeGreaterThanOrEqual(step);
  };
  /** Pause, failing (not hanging) if it does not end within 20 s; then no step follows. */
  const pauseAndCheckStopped = async () => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ended = await Promise.race([service.pause().then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 20_000)))]);
    clearTimeout(timer);
    expect(ended, 'pause() did not end').toBe(true);
    const step = service.status().step;
    await new Promise((r) => setTimeout(r, 300));
    expect(service.status()).toMatchObject({ state: 'paused', step });
  };

  it('Start clicked twice while a Pause is in flight runs one training loop, which the next Pause stops', async () => {
    await fresh();
    await service.start();
    await waitForStep(1);
    await Promise.all([service.pause(), service.start(), service.start()]);
    expect(service.status().state).toBe('running');
    const step = service.status().step;
    await waitForStep(step + 2);
    await pauseAndCheckStopped();
  }, 60_000);

  it('Start clicked while Reset waits for the step in flight: the fresh run trains, says so, its time counts, and Pause stops it', async () => {
    await fresh();
    await service.start();
    await waitForStep(1);
    const runId = service.status().runId;
    await Promise.all([service.reset(), service.start()]);
    expect(service.status()).toMatchObject({ runId: runId + 1, state: 'running' });
    await waitForStep(2);
    expect(service.status().state).toBe('running');
    expect(service.status().elapsedMs).toBeGreaterThan(0);
    await pauseAndCheckStopped();
  }, 60_000);

  it('Start clicked while a single step waits for the lock: the run trains on, says so, and Pause stops it', async () => {
    await fresh();
    await service.step();
    // A save of the run holds the lock (as an automatic save or an evaluation does); Step, then Start, wait behind it.
    const saving = service.checkpoint();
    const stepped = service.step();
    const started = service.start();
    await Promise.all([saving, stepped, started]);
    expect((await stepped).step).toBe(2);
    expect(service.status().state).toBe('running');
    await waitForStep(4);
    expect(service.status().state).toBe('running');
    await pauseAndCheckStopped();
  }, 60_000);
});
