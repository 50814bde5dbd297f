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
    const first = loads.begin();
    expect(loads.isLatest(first)).toBe(true);
    const second = loads.begin();
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
    const only = loads.begin();
    const byReplay =
      "big.tar.gz was not loaded: the CIFAR-10 sample replaced it, read for the classroom replay's final model while big.tar.gz was being read. Choose big.tar.gz again in the Data panel to train on it";
    expect(loads.errorOf(only, acrossComlink(new LoadSuperseded(byReplay)))).toBe(byReplay);
    // Replaced by a later choice in the panel, the same error is no news: nothing is said.
    const later = loads.begin();
    expect(loads.errorOf(only, acrossComlink(new LoadSuperseded(byReplay)))).toBeNull();
    expect(loads.isLatest(later)).toBe(true);
  });
});
