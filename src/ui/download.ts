import type { ExportedBundle } from '../worker/types';

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

/** The weights zip (TensorFlow.js model, safetensors, metadata.json, README.txt). */
export function saveBundle(bundle: ExportedBundle): string[] {
  saveBlob(new Blob([bundle.zip], { type: 'application/zip' }), bundle.name);
  return [bundle.name];
}
