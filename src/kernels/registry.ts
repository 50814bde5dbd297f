import * as tf from '@tensorflow/tfjs';
import { conv2dBackpropFilter as conv2dBackpropFilterCpu } from './cpu/conv2dBackpropFilter';
import { conv2dBackpropFilter as conv2dBackpropFilterWasm } from './wasm/conv2dBackpropFilter';
import { cropAndResize as cropAndResizeWasm } from './wasm/cropAndResize';
import type { CustomKernel, KernelCase } from './declaration';
import { WEBGPU_KERNELS } from './webgpu';

/**
 * The one switch of our kernels, and the one list of them, by backend. What a declaration
 * attaches goes in tfjs's way: replacements of stock kernels with `registerKernel`, gradients with
 * `registerGradient`, and MoCo operations through their override point (src/moco/overridable.ts).
 * `useCustomKernels(false)` gives stock tfjs and the plain MoCo code back.
 */
const KERNELS: Record<string, CustomKernel[]> = {
  cpu: [conv2dBackpropFilterCpu],
  wasm: [conv2dBackpropFilterWasm, cropAndResizeWasm],
  webgpu: WEBGPU_KERNELS,
};

const stockKernels = new Map<string, tf.KernelConfig>();
const stockGradients = new Map<string, tf.GradConfig>();
let enabled = false;
let excluded = new Set<string>();
let included = new Set<string>();
/** What the flags our declarations set were before, by flag, while one is set. */
const savedFlags = new Map<string, number | boolean | string>();

export interface CustomKernelOptions {
  /** Declarations to leave stock, by name (e.g. 'Conv2DBackpropFilter', 'InfoNce', 'ReluGrad'). */
  except?: readonly string[];
  /** Opt-in declarations or options to switch on as well (see `optInKernelNames`). */
  include?: readonly string[];
}

/** Whether `k` (or its opt-in option `name`) runs under the current switch. */
function isOn(k: CustomKernel, name = k.name, optIn = k.optIn): boolean {
  return enabled && !excluded.has(name) && (!optIn || included.has(name));
}

/**
 * Switches our kernels on or off for every backend they exist for (off until first called). A
 * backend whose kernels are not registered yet is skipped for replacements: call again once it is
 * imported (in Node, WebGPU's are only once Dawn is set up; `startBackend` in src/lib/node.ts starts
 * the backend and then calls this).
 */
export function useCustomKernels(on: boolean, options: CustomKernelOptions = {}): void {
  enabled = on;
  excluded = new Set(options.except ?? []);
  included = new Set(options.include ?? []);
  for (const [backendName, kernels] of Object.entries(KERNELS)) {
    const onBackend = () => tf.getBackend() === backendName;
    for (const k of kernels) {
      const use = isOn(k);
      for (const { kernelName, kernelFunc, gradient } of k.kernels ?? []) {
        if (!tf.getKernel(kernelName, backendName)) tf.registerKernel({ kernelName, backendName, kernelFunc });
        if (gradient && !tf.getGradient(kernelName)) tf.registerGradient({ kernelName, ...gradient });
      }
      if (k.replaces) replaceKernel(backendName, k.replaces, use);
      if (k.gradient) replaceGradient(k.gradient, use ? onBackend : undefined);
      for (const o of k.overrides ?? []) o.set(use ? onBackend : undefined);
      k.setOn?.(use);
      for (const option of k.options ?? []) option.setOn(use && isOn(k, option.name, true));
      if (k.flags) setFlags(k.flags, use);
    }
  }
}

function replaceKernel(backendName: string, { kernelName, kernelFunc }: { kernelName: string; kernelFunc: tf.KernelFunc }, use: boolean): void {
  const key = `${backendName}/${kernelName}`;
  let stock = stockKernels.get(key);
  if (!stock) {
    stock = tf.getKernel(kernelName, backendName);
    if (!stock) return;
    stockKernels.set(key, stock);
  }
  tf.unregisterKernel(kernelName, backendName);
  tf.registerKernel(use ? { ...stock, kernelFunc } : stock);
}

/**
 * A declaration's tfjs flags set while it is on, and put back to what they were when it goes off. A
 * flag that is not registered yet (its backend's package not imported) is left alone: call again
 * once it is, as for replacements.
 */
function setFlags(flags: Record<string, number | boolean | string>, use: boolean): void {
  const env = tf.env();
  for (const [name, value] of Object.entries(flags)) {
    if (use) {
      const current = registeredFlag(name);
      if (current === undefined) continue;
      if (!savedFlags.has(name)) savedFlags.set(name, current);
      env.set(name, value);
    } else if (savedFlags.has(name)) {
      env.set(name, savedFlags.get(name)!);
      savedFlags.delete(name);
    }
  }
}

/** A flag's value, undefined where no package has registered it (tfjs's `get` throws then). */
function registeredFlag(name: string): number | boolean | string | undefined {
  try {
    return tf.env().get(name);
  } catch {
    return undefined;
  }
}

/** tfjs keeps one gradient per kernel for every backend: ours runs where `when()` holds, the stock one elsewhere. */
function replaceGradient(ours: tf.GradConfig, when: (() => boolean) | undefined): void {
  let stock = stockGradients.get(ours.kernelName);
  if (!stock) {
    stock = tf.getGradient(ours.kernelName);
    if (!stock) return;
    stockGradients.set(ours.kernelName, stock);
  }
  if (String(stock.inputsToSave) !== String(ours.inputsToSave) || String(stock.outputsToSave) !== String(ours.outputsToSave))
    throw new Error(`our gradient of ${ours.kernelName} must save what tfjs's saves, so that either can run`);
  const fallback = stock;
  tf.registerGradient(when ? { ...ours, gradFunc: (dy, saved, attrs) => (when() ? ours : fallback).gradFunc(dy, saved, attrs) } : stock);
}

/** The current switch, to restore after a temporary change. */
export function customKernelSettings(): { on: boolean; except: string[]; include: string[] } {
  return { on: enabled, except: [...excluded], include: [...included] };
}

/** Whether the declaration or option `name` is on under the current switch. */
export function customKernelEnabled(name: string): boolean {
  for (const kernels of Object.values(KERNELS))
    for (const k of kernels) {
      if (k.name === name) return isOn(k);
      if (k.options?.some((o) => o.name === name)) return isOn(k) && isOn(k, name, true);
    }
  return false;
}

/** The declarations on `backendName`, by the names the switch takes. */
export function customKernelNames(backendName: string): string[] {
  return (KERNELS[backendName] ?? []).map((k) => k.name);
}

/** Every name the switch takes (declarations and their options, on any backend): what `include` and `except` may name. */
export function customKernelSwitchNames(): string[] {
  const names = Object.values(KERNELS).flatMap((kernels) => kernels.flatMap((k) => [k.name, ...(k.options ?? []).map((o) => o.name)]));
  return [...new Set(names)];
}

/** A command line's list of switch names, checked: a misspelt one would otherwise run the default silently. */
export function switchNameError(option: string, names: readonly string[]): string | null {
  const known = customKernelSwitchNames();
  const wrong = names.find((n) => !known.includes(n));
  return wrong === undefined ? null : `${option} names our kernels and their options (${known.join(', ')}), got '${wrong}'`;
}

/** The declarations and options on `backendName` that run only when included (but not the previous defaults kept for A/B runs). */
export function optInKernelNames(backendName: string): string[] {
  const kernels = KERNELS[backendName] ?? [];
  return [...kernels.filter((k) => k.optIn).map((k) => k.name), ...kernels.flatMap((k) => (k.options ?? []).filter((o) => !o.previousDefault).map((o) => o.name))];
}

/**
 * The declarations on `backendName` that only set tfjs flags (a stock path of tfjs in place of its
 * default: no cases of their own): the kernel checks compare a MoCo step with each on.
 */
export function flagKernelNames(backendName: string): string[] {
  return (KERNELS[backendName] ?? []).filter((k) => k.flags && !k.cases?.length).map((k) => k.name);
}

/** Every correctness case of the kernels on `backendName`, with the declaration it belongs to. */
export function kernelCases(backendName: string): (KernelCase & { kernel: string })[] {
  return (KERNELS[backendName] ?? []).flatMap((k) => (k.cases ?? []).map((c) => ({ ...c, kernel: k.name })));
}
