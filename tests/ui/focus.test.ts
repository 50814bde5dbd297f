/**
 * Keyboard focus where a task starts: a button that cannot be pressed while its task runs keeps
 * the focus of the keyboard that pressed it (a `disabled` button loses it, and Tab starts again
 * from the page's top).
 */
import { createElement, type ReactElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { TaskButton } from '../../src/ui/components/TaskButton';

describe('a task button', () => {
  it('stays focusable while its task runs: aria-disabled, never the disabled attribute, and a press does nothing', () => {
    let presses = 0;
    const onClick = () => presses++;
    const busy = renderToStaticMarkup(createElement(TaskButton, { disabled: true, onClick, children: 'Run now' }));
    expect(busy).toMatch(/^<button[^>]*aria-disabled="true"/);
    expect(busy).not.toMatch(/\sdisabled(=|\s|>)/);
    const pressWhile = (disabled: boolean) => (TaskButton({ disabled, onClick, children: 'Run now' }) as ReactElement<{ onClick?: () => void }>).props.onClick?.();
    pressWhile(true);
    expect(presses).toBe(0);
    pressWhile(false);
    expect(presses).toBe(1);
    expect(renderToStaticMarkup(createElement(TaskButton, { disabled: false, onClick, children: 'Run now' }))).toContain('aria-disabled="false"');
  });
});
