import type { ButtonHTMLAttributes } from 'react';

type TaskButtonProps = Omit<ButtonHTMLAttributes<HTMLButtonElement>, 'type' | 'disabled'> & {
  /** The button cannot be pressed now (its task runs, or the model is not ready). */
  disabled?: boolean;
};

/**
 * A button that starts a task and cannot be pressed again until it ends. With `disabled` the
 * browser takes the keyboard's focus away the moment it is pressed (a disabled button cannot hold
 * focus): a keyboard user is dropped at the page's start, and a screen reader loses its place. This
 * one keeps its focus: it says it is unavailable (aria-disabled) and ignores presses meanwhile.
 */
export function TaskButton({ disabled = false, onClick, className = 'btn', ...rest }: TaskButtonProps) {
  return <button type="button" className={className} aria-disabled={disabled} onClick={disabled ? undefined : onClick} {...rest} />;
}
