import { memo, useId, useState } from 'react';
import type { LiveParams } from '../../moco/config';
import { PRESETS, PRESET_NAMES, type PresetName } from '../../moco/resnet';
import { formatInt, formatLearningRate, formatMomentum, formatNumber, spokenParam } from '../format';
import { learningRateScale, momentumScale, queueScale, temperatureScale, type SliderScale } from '../scales';
import { BATCH_SIZES, DATASET_SIZES, STEP_BUDGETS } from '../setupChoices';
import { copyLink } from '../shareLink';
import type { RunState } from '../../worker/types';
import type { DataState } from '../useDataset';
import { BUILDING, type Training, type TrainingView } from '../useTraining';
import styles from './Controls.module.css';
import { FilePickButton } from './FilePickButton';
import { TaskButton } from './TaskButton';
import { Term } from './Term';


/** A preset in the Model menu: short enough to read whole in the closed menu; its widths go in the hint below. */
function presetLabel(name: PresetName): string {
  return `${name}, ${PRESETS[name].blocks.reduce((a, b) => a + b, 0)} blocks`;
}

interface SliderProps {
  id: string;
  label: string;
  scale: SliderScale;
  value: number;
  format: (v: number) => string;
  /** The value as a screen reader says it, with its symbol and unit (`spokenParam`). */
  spoken: (v: number) => string;
  onChange: (v: number) => void;
  hint?: React.ReactNode;
  ticks?: string[];
  warn?: boolean;
  disabled?: boolean;
}

function Slider({ id, label, scale, value, format, spoken, onChange, hint, ticks, warn, disabled }: SliderProps) {
  const text = format(value);
  const hintId = `${id}-hint`;
  return (
    <div className={`${styles.slider}${warn ? ` ${styles['slider--warn']}` : ''}`}>
      <div className={styles.slider__head}>
        <label htmlFor={id}>{label}</label>
        {/* Not live (an output is a status region): the slider itself says its value as it moves. */}
        <output htmlFor={id} className={styles.slider__value} data-testid={`${id}-value`} aria-live="off">
          {text}
        </output>
      </div>
      <input
        id={id}
        data-testid={id}
        type="range"
        min={0}
        max={scale.steps}
        step={1}
        value={scale.toPosition(value)}
        disabled={disabled}
        aria-valuetext={spoken(value)}
        aria-describedby={hint ? hintId : undefined}
        onChange={(e) => onChange(scale.toValue(Number(e.currentTarget.value)))}
      />
      {ticks && (
        <div className={styles.slider__ticks} aria-hidden="true">
          {ticks.map((t) => (
            <span key={t}>{t}</span>
          ))}
        </div>
      )}
      {hint && (
        <p className="hint" id={hintId}>
          {hint}
        </p>
      )}
    </div>
  );
}

/** Puts this setup and the live parameters on the clipboard as a link; opening it sets them, ready to start. */
function CopyLink({ link }: { link: () => string }) {
  const [note, setNote] = useState<string | null>(null);
  const copy = () => {
    const url = link();
    copyLink(url).then(
      () => setNote('Link copied: it opens with this setup and these parameters, ready to start.'),
      // No clipboard (an insecure origin, a denied permission): the link to copy by hand.
      () => setNote(`Copy this link: ${url}`),
    );
  };
  return (
    <div className={styles['copy-link']}>
      <button type="button" className="btn btn--wide" data-testid="copy-link" onClick={copy} title="A link to this setup and these live parameters (your own files travel as the built-in shapes)">
        Copy link
      </button>
      {/* Always there (empty before a copy): a live region added with its text in it is often not read. */}
      <p className={note ? `hint ${styles['copy-link__note']}` : 'visually-hidden'} role="status" data-testid="copy-link-note">
        {note}
      </p>
    </div>
  );
}

/** "1 batch", "2.5 batches". */
function batchCount(n: number): string {
  return `${formatNumber(n, 3)} ${n === 1 ? 'batch' : 'batches'}`;
}

/**
 * What the controls show and call, each a value or a stable callback: a statistics batch changes
 * none of them, so the panel (memoised) is not drawn again on every batch while training runs.
 */
export interface ControlsProps {
  phase: TrainingView['phase'];
  model: TrainingView['model'];
  busy: string | null;
  runState: RunState;
  /** The run has taken a step: Start reads Resume. */
  started: boolean;
  /** A run gone wrong waits for *Restore last good state*, a Worker that ended for *Restart* (FaultNotice). */
  stopped: boolean;
  /** The Worker ended: Reset starts a new one. */
  workerLost: boolean;
  setup: Training['setup'];
  params: LiveParams;
  setupDirty: boolean;
  dataLoading: boolean;
  updateSetup: Training['updateSetup'];
  updateParam: Training['updateParam'];
  start: Training['start'];
  pause: Training['pause'];
  step: Training['step'];
  reset: Training['reset'];
  download: Training['download'];
  loadWeights: Training['loadWeights'];
  shareLink: Training['shareLink'];
  loadSample: DataState['loadSample'];
}

/** The controls' props from the page's training and dataset state (spread them: the memo compares each). */
export function controlsProps(training: Training, data: DataState): ControlsProps {
  const { view } = training;
  return {
    phase: view.phase,
    model: view.model,
    busy: view.busy,
    runState: view.status.state,
    started: view.status.step > 0,
    stopped: Boolean(view.status.diverged) || Boolean(view.status.gpuLost) || training.workerLoss !== null,
    workerLost: training.workerLoss !== null,
    setup: training.setup,
    params: training.params,
    setupDirty: training.setupDirty,
    dataLoading: data.loading !== null,
    updateSetup: training.updateSetup,
    updateParam: training.updateParam,
    start: training.start,
    pause: training.pause,
    step: training.step,
    reset: training.reset,
    download: training.download,
    loadWeights: training.loadWeights,
    shareLink: training.shareLink,
    loadSample: data.loadSample,
  };
}

export const Controls = memo(function Controls(props: ControlsProps) {
  const { phase, model, busy, runState, started, stopped, workerLost, setup, params, setupDirty, dataLoading, updateSetup, updateParam, start, pause, step, reset, download, loadWeights, shareLink, loadSample } = props;
  const [includeKey, setIncludeKey] = useState(false);
  const uid = useId();
  const ready = phase === 'ready' && model !== null;
  const blocked = !ready || busy !== null;
  const running = runState === 'running';
  const finished = runState === 'finished';
  // While something else holds the Worker (a replay, an experiment, a load), a moved slider or a
  // changed setup would reach a run that is not the one on screen: they wait, as Start does. A
  // rebuild after a setup change holds nothing: one menu after another may change meanwhile.
  const held = busy !== null && busy !== BUILDING;
  const set = <K extends keyof LiveParams>(key: K) => (v: number) => updateParam(key, v as LiveParams[K]);
  const speak = (key: keyof LiveParams) => (v: number) => spokenParam(key, v);
  const m = params.momentum;

  return (
    <aside className={styles.controls} aria-label="Training controls">
      <section className="card">
        <div className={styles.buttons}>
          {running ? (
            <button type="button" className="btn btn--primary" data-testid="pause" onClick={() => void pause()}>
              <span aria-hidden="true">❚❚</span> Pause
            </button>
          ) : (
            <button type="button" className="btn btn--primary" data-testid="start" disabled={blocked || finished || stopped} onClick={() => void start()}>
              <span aria-hidden="true">▶</span> {started ? 'Resume' : 'Start'}
            </button>
          )}
          <button type="button" className="btn" data-testid="step" disabled={blocked || running || finished || stopped} onClick={() => void step()} title="Train one step">
            Step
          </button>
          <TaskButton data-testid="reset" disabled={blocked && !workerLost} onClick={() => void reset()} title="A fresh model with this setup">
            <span aria-hidden="true">↺</span> Reset
          </TaskButton>
        </div>
        {setupDirty && <p className="hint hint--warn">Setup changed: Reset to train with it.</p>}
        {busy && (
          <p className="hint" role="status">
            {busy}
          </p>
        )}
      </section>

      <section className="card" aria-labelledby={`${uid}-live`}>
        <h2 id={`${uid}-live`}>Live parameters</h2>
        <p className="hint">
          Apply from the next step, without restarting (marked on the charts): <Term id="momentum" />, the <Term id="queue" /> size K, the{' '}
          {/* The full stop never starts a line of its own after the term's button (its tooltip wraps as before). */}
          <span style={{ whiteSpace: 'nowrap' }}>
            <Term id="temperature" />.
          </span>
        </p>
        <Slider
          id="momentum"
          label="Momentum m"
          scale={momentumScale}
          value={m}
          format={formatMomentum}
          spoken={speak('momentum')}
          onChange={set('momentum')}
          ticks={['0', '0.9', '0.99', '0.999', '0.9999']}
          warn={m === 0}
          disabled={held}
          hint={
            m === 0 ? (
              <>m = 0: key encoder = query encoder (failure case).</>
            ) : (
              <>Key encoder ≈ mean of the last {formatInt(1 / (1 - m))} query encoders.</>
            )
          }
        />
        <Slider
          id="queue"
          label="Queue size K"
          scale={queueScale(setup.batchSize)}
          value={params.queueSize}
          format={formatInt}
          spoken={speak('queueSize')}
          onChange={set('queueSize')}
          disabled={held}
          hint={<>Negatives: the keys of the last {batchCount(params.queueSize / setup.batchSize)}.</>}
        />
        <Slider id="temperature" label="Temperature T" scale={temperatureScale} value={params.temperature} format={(v) => formatNumber(v, 3)} spoken={speak('temperature')} onChange={set('temperature')} disabled={held} />
        <Slider id="lr" label="Learning rate" scale={learningRateScale} value={params.learningRate} format={formatLearningRate} spoken={speak('learningRate')} onChange={set('learningRate')} disabled={held} />
      </section>

      <section className="card" aria-labelledby={`${uid}-setup`}>
        <h2 id={`${uid}-setup`}>Setup</h2>
        <div className="field">
          <label htmlFor={`${uid}-preset`}>Model</label>
          <select id={`${uid}-preset`} data-testid="preset" value={setup.preset} disabled={held} onChange={(e) => updateSetup({ preset: e.currentTarget.value as PresetName })}>
            {PRESET_NAMES.map((p) => (
              <option key={p} value={p}>
                {presetLabel(p)}
              </option>
            ))}
          </select>
        </div>
        <div className="field-row">
          <div className="field">
            <label htmlFor={`${uid}-batch`}>Batch</label>
            <select id={`${uid}-batch`} data-testid="batch" value={setup.batchSize} disabled={held} onChange={(e) => updateSetup({ batchSize: Number(e.currentTarget.value) })}>
              {BATCH_SIZES.map((b) => (
                <option key={b} value={b}>
                  {b}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor={`${uid}-version`}>Method</label>
            <select id={`${uid}-version`} data-testid="version" value={setup.version} disabled={held} onChange={(e) => updateSetup({ version: e.currentTarget.value as 'v1' | 'v2' })}>
              <option value="v1">MoCo v1</option>
              <option value="v2">MoCo v2</option>
            </select>
          </div>
        </div>
        {/* The Dataset and Steps menus take the card's width each: side by side, their choices were cut off. */}
        <div className="field">
          <label htmlFor={`${uid}-dataset`}>Dataset</label>
          <select
            id={`${uid}-dataset`}
            data-testid="dataset-size"
            value={setup.dataset === 'synthetic' ? setup.datasetSize : setup.dataset}
            disabled={dataLoading || held}
            onChange={(e) => {
              const value = e.currentTarget.value;
              // The sample is read (in the Worker) and trained on at once, as loaded files are; a size only changes the setup.
              if (value === 'sample') loadSample();
              else if (value !== 'files') updateSetup({ dataset: 'synthetic', datasetSize: Number(value) });
            }}
          >
            {setup.dataset === 'files' && <option value="files">Your files</option>}
            <option value="sample" disabled={!ready}>
              CIFAR-10 sample, 5,000 photos
            </option>
            {DATASET_SIZES.map((n) => (
              <option key={n} value={n}>
                Built-in shapes, {formatInt(n)}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${uid}-budget`}>Steps</label>
          <select id={`${uid}-budget`} data-testid="budget" value={setup.stepBudget} disabled={held} onChange={(e) => updateSetup({ stepBudget: Number(e.currentTarget.value) })}>
            {STEP_BUDGETS.map((n) => (
              <option key={n} value={n}>
                {n === 0 ? 'no limit' : formatInt(n)}
              </option>
            ))}
          </select>
        </div>
        {model && (
          <p className="hint">
            widths {PRESETS[setup.preset].widths.join('/')} · {formatInt(model.parameterCount)} parameters · {formatInt(model.batchesPerEpoch)} steps per epoch
          </p>
        )}
        <CopyLink link={shareLink} />
      </section>

      <section className="card" aria-labelledby={`${uid}-export`}>
        <h2 id={`${uid}-export`}>Trained weights</h2>
        <label className="check">
          <input type="checkbox" data-testid="include-key" checked={includeKey} onChange={(e) => setIncludeKey(e.currentTarget.checked)} />
          also the momentum encoder (as key/ in the zip)
        </label>
        <TaskButton className="btn btn--wide" data-testid="download" disabled={blocked} onClick={() => void download(includeKey)}>
          <span aria-hidden="true">⤓</span> Download weights
        </TaskButton>
        <p className="hint" title="model.json + weights.bin (TensorFlow.js), model.safetensors (PyTorch), metadata.json, README.txt">
          One zip: <code>tf.loadLayersModel</code> files, safetensors for PyTorch, metadata.json; L2-normalise the output.
        </p>
        <FilePickButton
          accept=".zip,.safetensors"
          testId="load-weights"
          disabled={blocked}
          className="btn--wide"
          title="A new run of this setup from the weights of a downloaded zip or a .safetensors file (also one PyTorch wrote)"
          onFile={(file) => void loadWeights(file)}
        >
          <span aria-hidden="true">⤒</span> Load weights…
        </FilePickButton>
      </section>
    </aside>
  );
});
