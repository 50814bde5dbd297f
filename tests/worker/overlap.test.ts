import { afterEach, describe, expect, it, vi } from 'vitest';
import { ExperimentRunner } from '../../src/worker/experiment';
import { TrainingService } from '../../src/worker/training';
import { MemoryRunStore } from '../support/memoryRunStore';
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

  it('Start clicked while a single step that goes wrong waits for the lock: the step says so, the Start is refused, and no step trains on the broken run', async () => {
    await fresh();
    service.keepRestorePoints(0);
    for (let i = 0; i < 3; i++) await service.step();
    await service.setParams({ learningRate: 1e30 });
    // Step 4's update breaks the weights: step 5's loss is NaN.
    await service.step();
    const stepped = service.step();
    const started = service.start();
    const [step, start] = await Promise.allSettled([stepped, started]);
    expect(step).toMatchObject({ status: 'rejected', reason: { message: expect.stringMatching(/^Training stopped: the loss became NaN at step 5/) } });
    // Nothing trains on: the run stays at the step that went wrong, in error, with step 5's message.
    await service.pause();
    const status = service.status();
    expect.soft(status).toMatchObject({ state: 'error', step: 5, diverged: { kind: 'non-finite', step: 5, restoreStep: 3 } });
    expect.soft(start).toMatchObject({ status: 'rejected', reason: { message: expect.stringMatching(/^training stopped at step 5 because it went wrong: restore the last good state \(step 3\)/) } });
    expect(status.error).toBe(status.diverged!.message);
  }, 60_000);

  it('Step, Start, then Pause clicked while the step waits for the lock: the Pause wins, and no loop trains after the step', async () => {
    await fresh();
    await service.step();
    const saving = service.checkpoint();
    const stepped = service.step();
    const started = service.start();
    const paused = service.pause();
    await Promise.all([saving, stepped, started, paused]);
    await new Promise((r) => setTimeout(r, 300));
    expect(service.status()).toMatchObject({ state: 'paused', step: 2 });
  }, 60_000);

  it('Pause clicked while the run recovers from a lost device: the recovery does not train on after it, and says so', async () => {
    await fresh();
    service.keepRestorePoints(0);
    await service.start();
    await waitForStep(3);
    // What the service's `device.lost` handler runs (no device to lose on the CPU backend): the run rebuilt, on the CPU again here.
    (service as unknown as { deviceLost(how: string): void }).deviceLost('destroyed: device was destroyed');
    await service.pause();
    const recovery = await service.deviceRecovered();
    expect(recovery).toMatchObject({ phase: 'done', resumed: false, backend: { backend: 'cpu' } });
    // From the last state kept.
    const step = service.status().step;
    expect(step).toBe(recovery!.fromStep);
    expect(step).toBeGreaterThanOrEqual(2);
    await new Promise((r) => setTimeout(r, 300));
    expect(service.status()).toMatchObject({ state: 'paused', step });
    // A Start after it trains the recovered run.
    await service.start();
    await waitForStep(step + 1);
    await pauseAndCheckStopped();
  }, 60_000);

  /** A run of 3 steps, saved at step 3, with a restore point before every step; paused. */
  const savedAtStep3 = async () => {
    await fresh();
    const store = new MemoryRunStore();
    service.useRunStore(store);
    service.keepRestorePoints(0);
    for (let i = 0; i < 3; i++) await service.step();
    for (let i = 0; i < 1000 && service.status().save?.step !== 3; i++) await new Promise((r) => setTimeout(r, 10));
    const [saved] = await service.savedRuns();
    expect(saved).toMatchObject({ step: 3 });
    return { store, saved };
  };
  /** Nothing trains: the state stays as it is a moment later, with no model (step 0). */
  const expectNothingTrains = async () => {
    await new Promise((r) => setTimeout(r, 300));
    expect(service.status()).toMatchObject({ state: 'error', step: 0 });
  };

  it('Start clicked while the run is rebuilt after a lost device, and the rebuild fails: the Start trains no fresh run, says what failed and the ways back, and the save stays', async () => {
    const { saved } = await savedAtStep3();
    // The rebuild's restore fails (as an out-of-memory on the new device would), after the old model was freed.
    vi.spyOn(service as unknown as { resumeNow(): Promise<unknown> }, 'resumeNow').mockRejectedValueOnce(new Error('out of memory restoring the weights'));
    (service as unknown as { deviceLost(how: string): void }).deviceLost('destroyed: device was destroyed');
    const started = service.start();
    await expect(started).rejects.toThrow(
      'rebuilding your run from its last good state (step 3) after the GPU device was lost failed (out of memory restoring the weights), and your run (step 3) is no longer in memory: nothing was started in its place. Resume its last save (step 3) in Saved runs, Continue without the GPU, or Reset to start a new run.',
    );
    await service.deviceRecovered();
    expect(service.status().gpuLost).toMatch(/^The GPU device was destroyed: device was destroyed at step 3, and recovering from it failed: out of memory restoring the weights\. Continue without the GPU/);
    await expectNothingTrains();
    // A Step is refused the same way, and the save is as it was.
    await expect(service.step()).rejects.toThrow(/^rebuilding your run .* failed/);
    expect(await service.savedRuns()).toEqual([saved]);
    // A way back it names: Continue without the GPU puts the run back at step 3, which then trains on.
    await service.continueOnCpu();
    expect(service.status()).toMatchObject({ step: 3, state: 'paused', error: null });
    expect((await service.step()).step).toBe(4);
  }, 60_000);

  it('Start clicked while Reset builds the new model, and the build fails: the Start trains no fresh run, says so, and the saved run resumes', async () => {
    const { saved } = await savedAtStep3();
    const data = (service as unknown as { data: { trainFor(): unknown } }).data;
    vi.spyOn(data, 'trainFor').mockImplementationOnce(() => {
      throw new Error('out of memory building the queue');
    });
    const [reset, start] = await Promise.allSettled([service.reset(), service.start()]);
    expect(reset).toMatchObject({ status: 'rejected', reason: { message: 'out of memory building the queue' } });
    const said =
      'building the new model failed (out of memory building the queue), and your run (step 3) is no longer in memory: nothing was started in its place. Resume its last save (step 3) in Saved runs, or Reset to start a new run.';
    expect(start).toMatchObject({ status: 'rejected', reason: { message: said } });
    // The status says it too (the page shows it), and nothing trains.
    expect(service.status().error).toBe(said);
    await expectNothingTrains();
    expect(await service.savedRuns()).toEqual([saved]);
    // Its save goes on from step 3.
    await service.resumeSaved(saved.id);
    expect(service.status()).toMatchObject({ step: 3, state: 'paused', error: null });
    expect((await service.step()).step).toBe(4);
  }, 60_000);

  it('a run lost to a failed Reset, then set aside for an experiment and for a replay, comes back lost: refused with the same words, no fresh run, the save untouched', async () => {
    const { store, saved } = await savedAtStep3();
    const data = (service as unknown as { data: { trainFor(): unknown } }).data;
    vi.spyOn(data, 'trainFor').mockImplementationOnce(() => {
      throw new Error('out of memory building the queue');
    });
    await expect(service.reset()).rejects.toThrow('out of memory building the queue');
    const said = service.status().error;
    expect(said).toBe(
      'building the new model failed (out of memory building the queue), and your run (step 3) is no longer in memory: nothing was started in its place. Resume its last save (step 3) in Saved runs, or Reset to start a new run.',
    );
    const stillLost = async () => {
      expect(service.status()).toMatchObject({ state: 'error', step: 0, error: said });
      await expect(service.start()).rejects.toThrow(said!);
      await expect(service.step()).rejects.toThrow(said!);
      await expectNothingTrains();
      expect(await service.savedRuns()).toEqual([saved]);
    };

    // An experiment started right after: its run trains, and at its end the run held aside is put back as it was, lost.
    const result = await new ExperimentRunner(service).run({ base: TINY_SETUP, param: 'momentum', values: [0.9], steps: 1, knn: false });
    expect(result.runs[0]).toMatchObject({ error: null, summary: { steps: 1 } });
    expect(result).toMatchObject({ restoredStep: 0, restoredLost: said });
    await stillLost();

    // A classroom replay: its final model resumed (here the save's, as another run), then left.
    const held = await service.holdRun();
    await service.resume(await store.read(saved.id), 'the final model of a recording');
    expect(service.status()).toMatchObject({ step: 3, state: 'paused', error: null });
    expect(await service.restoreRun(held)).toBeNull();
    await stillLost();

    // The way back it names: the save goes on from step 3.
    await service.resumeSaved(saved.id);
    expect(service.status()).toMatchObject({ step: 3, state: 'paused', error: null });
    expect((await service.step()).step).toBe(4);
  }, 60_000);
});
