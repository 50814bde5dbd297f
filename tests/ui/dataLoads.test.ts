/**
 * The Data panel while data is read: a second choice goes to the Worker (which trains on the data
 * chosen last), and the load it replaced, rejected there, is no error to the user; a load replaced
 * by data the user did not choose (the classroom replay's sample) is said.
 */
import { describe, expect, it } from 'vitest';
import { DatasetError } from '../../src/data/errors';
import { DataLoads } from '../../src/ui/useDataset';
import { LoadSuperseded } from '../../src/worker/types';
import { acrossComlink } from '../support/comlink';

const superseded = () => acrossComlink(new LoadSuperseded('big.tar.gz was not loaded: other data was chosen while it was read (choose big.tar.gz again to train on it)'));

describe('the Data panel’s loads', () => {
  it('a load replaced by a later choice shows no error; the later one’s progress and outcome are shown', () => {
    const loads = new DataLoads();
    const first = loads.begin('big.tar.gz');
    expect(loads.isLatest(first)).toBe(true);
    const second = loads.begin('broken.bin');
    // The first load's progress reports no longer reach the panel; the second's do.
    expect(loads.isLatest(first)).toBe(false);
    expect(loads.isLatest(second)).toBe(true);
    // The Worker rejects the first as replaced: nothing to say.
    expect(loads.errorOf(first, superseded())).toBeNull();
    // A problem with the latest choice is said as the Worker words it.
    const broken = acrossComlink(new DatasetError('broken.bin', '3,000 bytes is not a whole number of CIFAR-10 records (3,073 bytes each): pick the data_batch_*.bin files as downloaded'));
    expect(loads.errorOf(second, broken)).toBe('broken.bin: 3,000 bytes is not a whole number of CIFAR-10 records (3,073 bytes each): pick the data_batch_*.bin files as downloaded');
  });

  it('the latest choice replaced elsewhere (the classroom replay reading the sample) is said, in the Worker\'s words naming the replay and the way back', () => {
    const loads = new DataLoads();
    const only = loads.begin('big.tar.gz');
    const byReplay =
      "big.tar.gz was not loaded: the CIFAR-10 sample replaced it, read for the classroom replay's final model while big.tar.gz was being read. Choose big.tar.gz again in the Data panel to train on it";
    expect(loads.errorOf(only, acrossComlink(new LoadSuperseded(byReplay)))).toBe(byReplay);
    // Replaced by a later choice in the panel, the same error is no news: nothing is said.
    const later = loads.begin('the built-in dataset');
    expect(loads.errorOf(only, acrossComlink(new LoadSuperseded(byReplay)))).toBeNull();
    expect(loads.isLatest(later)).toBe(true);
  });

  it('says which replaced loads the Worker is still finishing, until each is answered', () => {
    const loads = new DataLoads();
    const big = loads.begin('big.bin');
    // Only the load in progress: nothing is being dropped.
    expect(loads.dropping()).toEqual([]);
    const tar = loads.begin('cifar-10-binary.tar.gz');
    expect(loads.dropping()).toEqual(['big.bin']);
    const builtIn = loads.begin('the built-in dataset');
    expect(loads.dropping()).toEqual(['big.bin', 'cifar-10-binary.tar.gz']);
    // The latest choice ends first; the replaced ones are still being read.
    loads.end(builtIn);
    expect(loads.dropping()).toEqual(['big.bin', 'cifar-10-binary.tar.gz']);
    loads.end(big);
    expect(loads.dropping()).toEqual(['cifar-10-binary.tar.gz']);
    loads.end(tar);
    expect(loads.dropping()).toEqual([]);
    // A later choice while nothing else is pending replaces nothing.
    loads.begin('test_1k.bin');
    expect(loads.dropping()).toEqual([]);
  });
});
