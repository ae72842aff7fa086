import { cloneElement, createContext, type ComponentChildren, type VNode } from 'preact';
import { useContext, useId } from 'preact/hooks';
import type { ApiProblem } from '../api/errors';
import { ago, exact } from './format';

/** An API failure in words, with its code. */
export function Problem({ problem }: { problem: ApiProblem | null | undefined }) {
  if (!problem) return null;
  return (
    <p class="problem" role="alert">
      <code>{problem.code}</code> {problem.message}
    </p>
  );
}

/** The schedule's time zone: exact times are shown in it everywhere (the admins' working clock). */
export const ZoneContext = createContext<string | undefined>(undefined);

export function Time({ iso, zone }: { iso: string | null | undefined; zone?: string }) {
  const scheduleZone = useContext(ZoneContext);
  zone ??= scheduleZone;
  if (!iso) return <span>—</span>;
  return (
    <time dateTime={iso} title={exact(iso, zone)}>
      {ago(iso)}
      <small> {exact(iso, zone)}</small>
    </time>
  );
}

export function ProgressBar({ percent, label }: { percent: number; label: string }) {
  const value = Math.max(0, Math.min(100, percent));
  return (
    <div class="bar" role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(value)}>
      <div class="bar-fill" style={{ width: `${value}%` }} />
      <span>{value.toFixed(0)} %</span>
    </div>
  );
}

export function Section({ title, children, actions }: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <section class="card" aria-label={title}>
      <header>
        <h2>{title}</h2>
        {actions}
      </header>
      {children}
    </section>
  );
}

/** A labelled control: the label names exactly the one control it wraps (for screen readers and tests). */
export function Field({ label, children, hint }: { label: string; children: VNode<{ id?: string }>; hint?: string }) {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {cloneElement(children, { id })}
      {hint && <small>{hint}</small>}
    </div>
  );
}
