import { BACKEND_LABELS, type BackendInfo } from '../../worker/types';
import styles from './BackendBadge.module.css';

/** What a fallback means, in a few words: why is behind it. */
export function fallbackSummary(backend: BackendInfo): string {
  if (backend.fallbackReason?.startsWith('WebGPU not tried')) return 'WebGPU not tried (backend set in the address) · why?';
  return `No WebGPU here: training runs on ${BACKEND_LABELS[backend.backend]}, more slowly · why?`;
}

export function BackendBadge({ backend, phase }: { backend: BackendInfo | null; phase: 'starting' | 'ready' | 'failed' }) {
  if (!backend) {
    return (
      <div className={styles.backend} data-testid="backend" role="status">
        {phase === 'failed' ? 'No backend' : 'Choosing a backend…'}
      </div>
    );
  }
  const fallback = backend.backend !== 'webgpu';
  return (
    <div className={`${styles.backend}${fallback ? ` ${styles['backend--fallback']}` : ''}`} role="status">
      <span className={styles.backend__label}>Backend</span>
      <strong data-testid="backend" data-backend={backend.backend}>
        {BACKEND_LABELS[backend.backend]}
      </strong>
      {backend.adapter && <span className={styles.backend__adapter}>{backend.adapter}</span>}
      {backend.detail && (
        <span className={styles.backend__adapter} data-testid="backend-detail">
          {backend.detail}
        </span>
      )}
      {backend.fallbackReason && (
        // Plain words on the header (a projector, a class); the technical reason one click away.
        <details className={styles.backend__reason}>
          <summary data-testid="backend-fallback">{fallbackSummary(backend)}</summary>
          <span data-testid="backend-reason">{backend.fallbackReason}</span>
        </details>
      )}
    </div>
  );
}
