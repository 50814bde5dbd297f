import type { ReactNode } from 'react';

interface FilePickButtonProps {
  children: ReactNode;
  /** The file types offered, as `<input accept>`: ".zip,.safetensors". */
  accept: string;
  /** Names the hidden file input, which end-to-end tests fill. */
  testId: string;
  disabled?: boolean;
  title?: string;
  /** Classes added to `btn` (e.g. `btn--wide`). */
  className?: string;
  onFile: (file: File) => void;
}

/**
 * A button that opens the file picker for one file: a label around a hidden file input, so that the
 * button is styled as the others and the input keeps its native keyboard and accessibility
 * behaviour: visually hidden, not `hidden`, so that Tab reaches it (the label shows its focus). The
 * input is emptied after each pick, so that picking the same file again is heard.
 */
export function FilePickButton({ children, accept, testId, disabled = false, title, className, onFile }: FilePickButtonProps) {
  const classes = ['btn', className, disabled ? 'btn--disabled' : undefined].filter(Boolean).join(' ');
  return (
    <label className={classes} title={title}>
      {children}
      <input
        type="file"
        accept={accept}
        data-testid={testId}
        disabled={disabled}
        className="visually-hidden"
        onChange={(e) => {
          const file = e.currentTarget.files?.[0];
          e.currentTarget.value = '';
          if (file) onFile(file);
        }}
      />
    </label>
  );
}
