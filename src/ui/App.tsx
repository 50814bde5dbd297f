import { useMemo } from 'react';
import { BackendBadge } from './components/BackendBadge';
import { BenchmarkPanel } from './components/BenchmarkPanel';
import { Charts, EXPERIMENT_WAIT, REPLAY_WAIT, START } from './components/Charts';
import { Controls, controlsProps } from './components/Controls';
import { DataPanel } from './components/DataPanel';
import { FaultNotice } from './components/FaultNotice';
import { Evaluation } from './components/Evaluation';
import { Experiments } from './components/Experiments';
import { Explainer } from './components/Explainer';
import { diagramStats, MethodDiagram } from './components/MethodDiagram';
import { ReplayPanel } from './components/ReplayPanel';
import { SavedRuns } from './components/SavedRuns';
import { StatusBar } from './components/StatusBar';
import { useDataset } from './useDataset';
import { useExperiment } from './useExperiment';
import type { RunOverlay } from './series';
import { useEvaluation } from './useEvaluation';
import { useOverlays } from './useOverlays';
import { useReplay } from './useReplay';
import { useTraining } from './useTraining';

const NO_OVERLAYS: readonly RunOverlay[] = [];
/** Before a replay's final model is in the Worker, the model there is the run held aside. */
const REPLAY_EVALUATION_WAIT = 'These panels explore the recording’s final model once it is loaded: at the end of the replay, or now with “Explore the final model now” above.';

export function App() {
  const training = useTraining();
  // One dataset state for the setup's dataset menu and the Data panel.
  const data = useDataset(training);
  // Other runs on the charts: the saved runs ticked in the list and the experiment's finished runs.
  const experiment = useExperiment(training);
  const compare = useOverlays(training, experiment.overlaySources);
  // The kNN monitor, the probe and the other evaluations: the Evaluation panel shows them, the
  // charts' export reads the kNN history from here.
  const evaluation = useEvaluation(training);
  // A classroom replay, while shown, drives the charts and the diagram instead of the Worker's run.
  const replay = useReplay(training);
  const played = replay.shown;
  const { view, store, version, setup } = training;
  // The panels that do not show the statistics (the controls, the explainer) are memoised, so a
  // batch redraws only what shows it; the diagram gets the last step's figures it writes.
  // eslint-disable-next-line react-hooks/exhaustive-deps -- the store is mutable: `version` says when it changed
  const last = useMemo(() => diagramStats(played ? played.last : store.last()), [played?.last, store, version]);
  return (
    <div className="app">
      {/* The first Tab stop: past the controls' twenty stops to the explainer, status and charts (WCAG 2.4.1). */}
      <a className="skip-link" href="#main" data-testid="skip-to-main">
        Skip to the main panel
      </a>
      <header className="header">
        <div className="header__title">
          <h1>MoCo in the browser</h1>
          <p>Momentum Contrast, self-supervised, training live in this tab</p>
        </div>
        <BackendBadge backend={view.backend} phase={view.phase} />
      </header>
      {view.error && (
        <div className="banner banner--error" role="alert" data-testid="error">
          {view.error}
        </div>
      )}
      <div className="layout">
        <Controls {...controlsProps(training, data)} />
        <main className="main" id="main" tabIndex={-1}>
          <Explainer />
          <StatusBar training={training} replay={played} experiment={experiment.running && (experiment.progress ?? true)} />
          <ReplayPanel replay={replay} />
          <FaultNotice training={training} />
          <SavedRuns training={training} shown={compare.shown} onShow={compare.show} />
          <Experiments training={training} experiment={experiment} />
          <MethodDiagram momentum={played ? (played.last?.momentum ?? null) : (view.workerParams?.momentum ?? null)} queue={played ? played.queue : view.queue} last={last} />
          {compare.error && (
            <p className="hint hint--warn" role="alert">
              {compare.error}
            </p>
          )}
          {compare.overlays.length > 0 && (
            <p className="hint" data-testid="compare-legend">
              The charts compare this run ({compare.currentLabel}) with{' '}
              {compare.overlays.map((o, i) => (
                <span key={o.id}>
                  {i > 0 ? ', ' : ''}
                  <span style={{ color: o.colour }}>●</span> {o.label}
                </span>
              ))}
              .
            </p>
          )}
          {played ? (
            <Charts overlays={NO_OVERLAYS} knn={played.knnPoints} store={played.store} version={played.version} queueSize={played.last?.queueCapacity ?? played.recording.manifest.setup.config.queueSize} batchSize={played.recording.manifest.setup.batchSize} whatNext={REPLAY_WAIT} />
          ) : (
            <Charts overlays={compare.overlays} knn={evaluation.knnPoints} store={store} version={version} queueSize={view.workerParams?.queueSize ?? training.params.queueSize} batchSize={setup.batchSize} whatNext={experiment.running ? EXPERIMENT_WAIT : START} />
          )}
          <DataPanel training={training} data={data} replayedOn={played && played.final.state !== 'loaded' ? played.recording.manifest.setup.dataset.name : null} />
          <Evaluation training={training} ev={evaluation} overlays={compare.overlays} waiting={played && played.final.state !== 'loaded' ? REPLAY_EVALUATION_WAIT : null} />
          <BenchmarkPanel training={training} />
        </main>
      </div>
    </div>
  );
}
