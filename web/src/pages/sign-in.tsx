import { useState } from 'preact/hooks';
import { signIn } from '../api/anonymous';
import type { ApiProblem } from '../api/errors';
import { LOGIN } from '../api/operations';
import { Field, Problem } from '../ui/parts';

export function SignIn({ notice }: { notice: string | null }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<ApiProblem | null>(null);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setProblem(await signIn(LOGIN, email.trim(), password));
    setBusy(false);
  };

  return (
    <main class="sign-in">
      <form class="card" onSubmit={(e) => void submit(e)} aria-label="Sign in">
        <h1>Kiln</h1>
        <p class="muted">Backups of the Millennium Potters lending data. Administrators only.</p>
        {notice && <p class="notice" role="status">{notice}</p>}
        <Field label="Email">
          <input type="email" name="email" autoComplete="username" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </Field>
        <Field label="Password">
          <input type="password" name="password" autoComplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </Field>
        <button type="submit" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
        <Problem problem={problem} />
      </form>
    </main>
  );
}
