/**
 * A polite live region for a screen reader only, always in the page (a region added with its text
 * already in it is often not read): `text` is said each time it changes. Feed it a stage, not a
 * count (src/ui/announcements.ts), so that it speaks once per stage, not per step.
 */
export function LiveStatus({ text, testId }: { text: string; testId: string }) {
  return (
    <p className="visually-hidden" role="status" data-testid={testId}>
      {text}
    </p>
  );
}
