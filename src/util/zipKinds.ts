/**
 * The app's three kinds of zip, told apart by their entries, so that one given where another is
 * expected is named with where it goes: a saved run (a checkpoint), trained weights (the weights
 * download) or a classroom recording.
 */
export type ZipKind = 'checkpoint' | 'weights' | 'recording';

/** The entries that mark each kind: the formats (train/checkpoint, train/recording, io/modelBundle) write them under these names. */
export const ZIP_ENTRIES = {
  recordingManifest: 'recording.json',
  checkpointManifest: 'manifest.json',
  weightsMetadata: 'metadata.json',
  weightsSafetensors: 'model.safetensors',
  weightsTfjs: 'model.json',
} as const;

/** The kind of zip whose entries are `names`, if it is one of the app's. */
export function zipKind(names: Iterable<string>): ZipKind | null {
  const all = new Set(names);
  if (all.has(ZIP_ENTRIES.recordingManifest)) return 'recording';
  if (all.has(ZIP_ENTRIES.checkpointManifest)) return 'checkpoint';
  if (all.has(ZIP_ENTRIES.weightsMetadata) && (all.has(ZIP_ENTRIES.weightsSafetensors) || all.has(ZIP_ENTRIES.weightsTfjs))) return 'weights';
  return null;
}

/** Where a zip of `kind` goes, in the app and in the headless trainer. */
export const WHERE_IT_GOES: Record<ZipKind, string> = {
  checkpoint: 'a saved run (a checkpoint): open it with Saved runs’ Open run… (the headless trainer: --resume)',
  weights: 'trained weights (a Download weights zip): load them with Load weights… (the headless trainer: --init)',
  recording: 'a classroom recording: open it with Classroom replay’s Open a recording…',
};
