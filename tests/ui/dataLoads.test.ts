/**
 * The Data panel while data is read: a second choice goes to the Worker (which trains on the data
 * chosen last), and the load it replaced, rejected there, is no error to the user.
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

  it('the latest choice replaced elsewhere (a replay reading the sample) shows no error either, recognised by its kind, not its words', () => {
    const loads = new DataLoads();
    const only = loads.begin();
    expect(loads.errorOf(only, superseded())).toBeNull();
    // The same words from another error are an error to show: the panel does not go by the message.
    const lookalike = new Error('big.tar.gz was not loaded: other data was chosen while it was read (choose big.tar.gz again to train on it)');
    expect(loads.errorOf(only, acrossComlink(lookalike))).toBe(lookalike.message);
  });
});
