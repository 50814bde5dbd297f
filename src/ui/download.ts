import type { ExportedModel } from '../worker/types';

/** Saves a blob under `name` through a temporary link (downloads cannot start in a Worker). */
export function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.style.display = 'none';
  document.body.append(a);
  a.click();
  a.remove();
  // The download has its own copy once it has started.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** model.json and its weight file for each exported encoder. */
export function saveModels(models: ExportedModel[]): string[] {
  const names: string[] = [];
  for (const m of models) {
    saveBlob(new Blob([m.modelJson], { type: 'application/json' }), m.jsonName);
    saveBlob(new Blob([m.weights], { type: 'application/octet-stream' }), m.weightsName);
    names.push(m.jsonName, m.weightsName);
  }
  return names;
}
