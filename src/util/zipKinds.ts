/**
 * The app's three kinds of zip, told apart by their entries, so that one given where another is
 * expected is named with where it goes: a saved run (a checkpoint), trained weights (the weights
 * download) or a classroom recording.
 */
export type ZipKind = 'checkpoint' | 'weights' | 'recording';

/** The kind of zip whose entries are `names`, if it is one of the app's. */
export function zipKind(names: Iterable<string>): ZipKind | null {
  const all = new Set(names);
  if (all.has('recording.json')) return 'recording';
  if (all.has('manifest.json')) return 'checkpoint';
  if (all.has('metadata.json') && (all.has('model.safetensors') || all.has('model.json'))) return 'weights';
  return null;
}

/** Where a zip of `kind` goes, in the app and in the headless trainer. */
export const WHERE_IT_GOES: Record<ZipKind, string> = {
  checkpoint: 'a saved run (a checkpoint): open it with Saved runs’ Open run… (the headless trainer: --resume)',
  weights: 'trained weights (a Download weights zip): load them with Load weights… (the headless trainer: --init)',
  recording: 'a classroom recording: open it with Classroom replay’s Open a recording…',
};
