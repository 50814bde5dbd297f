import { memo, type ChangeEvent, useEffect, useId, useMemo, useRef, useState } from 'react';
import type { Cifar100Labels } from '../../data/cifar';
import type { DatasetInfo, LoadProgress } from '../../worker/types';
import { dragHasFiles, filesFromDrop, filesFromInput } from '../dropFiles';
import { loadingAnnouncement } from '../announcements';
import { formatInt, formatNumber } from '../format';
import type { DataState, Loading } from '../useDataset';
import { BUILDING, type Training } from '../useTraining';
import styles from './DataPanel.module.css';
import { LiveStatus } from './LiveStatus';

const THUMB = 32;

const HELD_OUT_FROM: Record<DatasetInfo['heldOutFrom'], string> = {
  'test-split': 'the test batch',
  carved: '~10% of each class, set aside',
  generated: 'the generated test split',
};

function progressText(p: LoadProgress): string {
  if (p.unit === 'images') return `${formatInt(p.done)} of ${formatInt(p.total)} images`;
  const mb = (n: number) => formatNumber(n / 1e6, 3);
  return `${mb(p.done)} of ${mb(p.total)} MB`;
}

function LoadingLine({ loading }: { loading: Loading }) {
  const p = loading.progress;
  return (
    // Not live: the megabytes change with every chunk; the panel's LiveStatus says which file once.
    <div className={styles['data-panel__loading']} data-testid="data-loading">
      <span>
        Reading {loading.what}
        {p ? `: ${progressText(p)}` : '…'}
      </span>
      {/* No value: an indeterminate bar until the first report. */}
      {p && p.total > 0 ? <progress data-testid="data-progress" max={p.total} value={p.done} /> : <progress data-testid="data-progress" />}
    </div>
  );
}

/** One class's sample images, drawn at their true 32×32 pixels (CSS scales the canvas up, unsmoothed). */
function ThumbnailStrip({ info, indices, label }: { info: DatasetInfo; indices: number[]; label: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const context = canvas.current?.getContext('2d');
    if (!context) return;
    const { pixels } = info.thumbnails;
    const size = THUMB * THUMB * 4;
    indices.forEach((k, j) => context.putImageData(new ImageData(pixels.slice(k * size, (k + 1) * size), THUMB, THUMB), j * THUMB, 0));
  }, [info, indices]);
  if (indices.length === 0) return null;
  return <canvas ref={canvas} className={styles['data-thumbs']} data-testid="data-thumbs" width={indices.length * THUMB} height={THUMB} role="img" aria-label={`${indices.length} ${label} images`} />;
}

/** Rows of the class table in view at once (DataPanel.module.css sizes its box for them). */
const CLASS_ROWS_IN_VIEW = 7;

/** Memoised: the page re-renders with every statistics batch, the summary only with a new dataset. */
const DatasetSummary = memo(function DatasetSummary({ info }: { info: DatasetInfo }) {
  const total = info.trainSize + info.heldOutSize;
  // Thumbnails come class after class; each row draws its own.
  const byClass = useMemo(() => {
    const rows = info.classNames.map(() => [] as number[]);
    info.thumbnails.labels.forEach((label, k) => rows[label].push(k));
    return rows;
  }, [info]);
  const scrolls = info.classNames.length > CLASS_ROWS_IN_VIEW;
  return (
    <div data-testid="data-summary">
      <p className={styles['data-summary__name']}>
        Training on <strong data-testid="data-name">{info.name}</strong>
        {info.labels && <> ({info.labels} labels)</>}
      </p>
      <p className={styles['data-summary__count']} data-testid="data-count">
        {formatInt(total)} images in {formatInt(info.classNames.length)} classes
      </p>
      {info.warnings.length > 0 && (
        <ul className={styles['data-summary__warnings']} data-testid="data-warnings" role="status">
          {info.warnings.map((w) => (
            <li key={w}>⚠ {w}</li>
          ))}
        </ul>
      )}
      <p className="hint">
        {formatInt(info.trainSize)} for training · {formatInt(info.heldOutSize)} held out for evaluation ({HELD_OUT_FROM[info.heldOutFrom]})
      </p>
      <div
        className={styles['data-summary__table']}
        // A box that scrolls is a keyboard stop, so that the arrow keys reach its other rows.
        tabIndex={scrolls ? 0 : undefined}
        role={scrolls ? 'region' : undefined}
        aria-label={scrolls ? `Classes, ${formatInt(info.classNames.length)} rows` : undefined}
      >
        <table className="data-table" data-testid="data-classes">
          <thead>
            <tr>
              <th scope="col">class</th>
              <th scope="col">train</th>
              <th scope="col">held out</th>
              <th scope="col">samples</th>
            </tr>
          </thead>
          <tbody>
            {info.classNames.map((name, c) => (
              <tr key={`${c}:${name}`}>
                <th scope="row">{name}</th>
                <td>{formatInt(info.trainCounts[c])}</td>
                <td>{formatInt(info.heldOutCounts[c])}</td>
                <td>
                  <ThumbnailStrip info={info} indices={byClass[c]} label={name} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {scrolls && (
        <p className="hint" data-testid="data-classes-more">
          {CLASS_ROWS_IN_VIEW} of {formatInt(info.classNames.length)} classes in view: scroll the table for the others.
        </p>
      )}
    </div>
  );
});

/** React has no typed prop for the folder picker's attribute. */
function asFolderPicker(el: HTMLInputElement | null): void {
  el?.setAttribute('webkitdirectory', '');
}

/** Where the training images come from: the built-in set, or the user's files, picked or dropped. */
/**
 * `replayedOn`: while a replay is shown and its final model not yet loaded, the dataset it was
 * recorded on: the panel still shows the data of the run held aside, and says so.
 */
export function DataPanel({ training, data, replayedOn }: { training: Training; data: DataState; replayedOn?: string | null }) {
  const { info, loading, dropping, error, labels } = data;
  const [dragging, setDragging] = useState(false);
  const uid = useId();
  const ready = training.view.phase === 'ready' && training.view.model !== null;
  // A choice while other data is read replaces it (the Worker trains on the data chosen last);
  // while a replay or an experiment holds the Worker, new data would start a run behind its back.
  const disabled = !ready || (training.view.busy !== null && training.view.busy !== BUILDING);
  const loadPicked = (e: ChangeEvent<HTMLInputElement>) => {
    const files = filesFromInput(e.currentTarget.files);
    // Cleared, so that picking the same file again (after fixing it) loads it again.
    e.currentTarget.value = '';
    data.loadFiles(files);
  };

  return (
    <section
      className={`card ${styles['data-panel']}${dragging ? ` ${styles['data-panel--drop']}` : ''}`}
      aria-labelledby={`${uid}-title`}
      data-testid="data-panel"
      onDragOver={(e) => {
        if (!dragHasFiles(e.dataTransfer)) return;
        e.preventDefault();
        e.dataTransfer.dropEffect = disabled ? 'none' : 'copy';
        setDragging(true);
      }}
      onDragLeave={(e) => {
        if (!e.currentTarget.contains(e.relatedTarget as Node | null)) setDragging(false);
      }}
      onDrop={(e) => {
        if (!dragHasFiles(e.dataTransfer)) return;
        e.preventDefault();
        setDragging(false);
        if (disabled) return;
        void data.loadDropped(filesFromDrop(e.dataTransfer));
      }}
    >
      <div className={styles['data-panel__head']}>
        <h2 id={`${uid}-title`}>Data</h2>
        <p className="hint">
          CIFAR-10/100 binary files (<code>.bin</code>), <code>cifar-10-binary.tar.gz</code> or <code>cifar-100-binary.tar.gz</code>, or a folder with
          one sub-folder of images per class — pick them or drop them here (or pick the CIFAR-10 sample in the setup’s Dataset menu). Loading starts a fresh run with the same setup.
        </p>
      </div>
      <div className={styles['data-panel__actions']}>
        <label className={`btn${disabled ? ' btn--disabled' : ''}`}>
          Files…
          <input
            type="file"
            multiple
            className="visually-hidden"
            data-testid="data-files"
            accept=".bin,.tar,.gz,.tgz,image/*"
            disabled={disabled}
            onChange={loadPicked}
          />
        </label>
        <label className={`btn${disabled ? ' btn--disabled' : ''}`}>
          Folder…
          <input
            type="file"
            multiple
            ref={asFolderPicker}
            className="visually-hidden"
            data-testid="data-folder"
            disabled={disabled}
            onChange={loadPicked}
          />
        </label>
        <button type="button" className="btn" data-testid="data-builtin" disabled={disabled || !info || (info.source === 'synthetic' && loading === null)} onClick={data.loadBuiltIn}>
          Built-in dataset
        </button>
        {/* Only CIFAR-100 has two label sets: the choice shows once CIFAR-100 is loaded. */}
        {info?.format === 'cifar100' && (
        <div className={`field ${styles['data-panel__labels']}`}>
          <label htmlFor={`${uid}-labels`}>CIFAR-100 labels</label>
          <select
            id={`${uid}-labels`}
            data-testid="data-labels"
            value={labels}
            disabled={loading !== null}
            aria-describedby={`${uid}-labels-hint`}
            onChange={(e) => data.setLabels(e.currentTarget.value as Cifar100Labels)}
          >
            <option value="fine">fine — 100 classes</option>
            <option value="coarse">coarse — 20 superclasses</option>
          </select>
          <span className="visually-hidden" id={`${uid}-labels-hint`}>
            Used for CIFAR-100 files; CIFAR-100 data in use is read again with the new labels.
          </span>
        </div>
        )}
      </div>
      <LiveStatus text={loadingAnnouncement(loading)} testId="data-announcement" />
      {loading && <LoadingLine loading={loading} />}
      {dropping.length > 0 && (
        <p className="hint" data-testid="data-dropping">
          Dropping {dropping.join(', ')}, replaced by a later choice: the Worker finishes with {dropping.length === 1 ? 'it' : 'them'} in the background and will not use {dropping.length === 1 ? 'it' : 'them'}.
        </p>
      )}
      {error && (
        <p className={styles['data-panel__error']} role="alert" data-testid="data-error">
          Not loaded — {error}
          {info && <> (still training on {info.name})</>}
        </p>
      )}
      {replayedOn && (
        <p className="hint hint--warn" data-testid="data-replay">
          The recording shown was made on {replayedOn}. Below: the data of your run, held aside until you leave the replay.
        </p>
      )}
      {info && <DatasetSummary info={info} />}
    </section>
  );
}
