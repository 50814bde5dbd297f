import { BackendBadge } from './components/BackendBadge';
import { BenchmarkPanel } from './components/BenchmarkPanel';
import { Charts } from './components/Charts';
import { Controls } from './components/Controls';
import { DataPanel } from './components/DataPanel';
import { FaultNotice } from './components/FaultNotice';
import { Evaluation } from './components/Evaluation';
import { MethodDiagram } from './components/MethodDiagram';
import { SavedRuns } from './components/SavedRuns';
import { StatusBar } from './components/StatusBar';
import { useDataset } from './useDataset';
import { useTraining } from './useTraining';

export function App() {
  const training = useTraining();
  // One dataset state for the setup's dataset menu and the Data panel.
  const data = useDataset(training);
  const { view, store, version, setup } = training;
  const last = store.last();
  return (
    <div className="app">
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
        <Controls training={training} data={data} />
        <main className="main">
          <StatusBar training={training} />
          <FaultNotice training={training} />
          <SavedRuns training={training} />
          <MethodDiagram momentum={view.workerParams?.momentum ?? null} queue={view.queue} last={last} />
          <Charts store={store} version={version} queueSize={view.workerParams?.queueSize ?? training.params.queueSize} batchSize={setup.batchSize} />
          <DataPanel training={training} data={data} />
          <Evaluation training={training} />
          <BenchmarkPanel training={training} />
        </main>
      </div>
    </div>
  );
}
