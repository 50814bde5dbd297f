import { BACKEND_LABELS, type BackendInfo } from '../../worker/types';
import styles from './BackendBadge.module.css';

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
        <span className={styles.backend__reason} data-testid="backend-reason">
          {backend.fallbackReason}
        </span>
      )}
    </div>
  );
}
